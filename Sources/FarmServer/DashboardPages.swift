import Farm
import Foundation
import HTTPTypes
import Hummingbird
import Imaging
import NIOCore
import RenderFormat

/// The server-rendered pages. Each page's live part is rendered by one function and sent whole, or alone when
/// `?fragment=1` (the page's script reloads it every 2 s).
struct DashboardPages {
    let server: FarmServer
    var pool: DatabasePool { server.pool }

    /// Cells shown on a batch page (the PNG download has them all).
    static let sheetLimit = 2000

    func register(_ router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in await page(request, "Overview") { try await overview() } }
        router.get("batches") { request, _ in await page(request, "Batches") { try await batches() } }
        router.get("batches/{id}") { request, context in
            let id = try? APIRoutes.id(context, "id")
            return await page(request, "Batch \(id.map(String.init) ?? "?")") {
                guard let id else { throw FarmError(.notFound, "no such batch") }
                return try await batch(id)
            }
        }
        router.get("batches/{id}/sheet.png") { request, context in
            guard server.mayRead(request) else { return FarmServer.error(.unauthorized, "enter the API token") }
            do {
                let id = try APIRoutes.id(context, "id")
                let cell = request.uri.queryParameters.get("cell").flatMap(Int.init) ?? 128
                guard (16...512).contains(cell) else { return FarmServer.error(.badRequest, "cell=\(cell): give 16…512") }
                let png = try await pool.run { q in try PNGCodec.encode(try q.contactSheet(batch: id, cell: cell).image) }
                return FarmServer.png(png, filename: "batch-\(id).png")
            } catch { return FarmServer.failure(error) }
        }
        router.get("jobs") { request, _ in
            let q = request.uri.queryParameters
            return await page(request, "Jobs") {
                try await jobs(state: q.get("state").flatMap { $0.isEmpty ? nil : $0 }, model: q.get("model").flatMap { $0.isEmpty ? nil : $0 },
                               text: q.get("q").flatMap { $0.isEmpty ? nil : $0 })
            }
        }
        router.get("jobs/{id}") { request, context in
            let id = try? APIRoutes.id(context, "id")
            return await page(request, "Job \(id.map(String.init) ?? "?")") {
                guard let id else { throw FarmError(.notFound, "no such job") }
                return try await job(id)
            }
        }
        router.get("jobs/{id}/image") { request, context in
            guard server.mayRead(request) else { return FarmServer.error(.unauthorized, "enter the API token") }
            do {
                guard let png = try await server.image(job: try APIRoutes.id(context, "id")) else { return FarmServer.error(.notFound, "no image yet") }
                return FarmServer.png(png)
            } catch { return FarmServer.failure(error) }
        }
        router.get("workers") { request, _ in await page(request, "Workers") { try await workers() } }
    }

    /// A page (or its live fragment), after the read check.
    func page(_ request: Request, _ title: String, _ body: () async throws -> String) async -> Response {
        guard server.mayRead(request) else {
            return FarmServer.html(HTML.page(title: "Token needed", body: "<p>This server listens beyond loopback: enter the API token above, then reload.</p>", live: false),
                                   status: .unauthorized)
        }
        do {
            let content = try await body()
            return FarmServer.html(request.uri.queryParameters.get("fragment") == "1" ? content : HTML.page(title: title, body: content))
        } catch let e as FarmError where e.code == .notFound {
            return FarmServer.html(HTML.page(title: "Not found", body: "<p>\(HTML.escape(e.message))</p>", live: false), status: .notFound)
        } catch {
            return FarmServer.html(HTML.page(title: "Error", body: "<p class=\"err\">\(HTML.escape("\(error)"))</p>", live: false), status: .internalServerError)
        }
    }

    static func counts(_ c: [String: Int]) -> String {
        JobState.allCases.map { "<span class=\"state-\($0.rawValue)\">\($0.rawValue) \(c[$0.rawValue] ?? 0)</span>" }.joined(separator: " · ")
    }

    func overview() async throws -> String {
        let (status, rates, workers) = try await pool.run { q in (try q.status(), try q.rates(), try q.workers()) }
        let live = workers.filter(\.alive).count
        let stale = workers.filter { !$0.alive && !$0.stopped }.count
        func card(_ label: String, _ value: String, _ id: String) -> String {
            "<div class=\"card\" id=\"\(id)\"><b>\(HTML.escape(value))</b>\(HTML.escape(label))</div>"
        }
        var html = "<div class=\"cards\">"
        for s in JobState.allCases { html += card(s.rawValue, String(status.counts[s.rawValue] ?? 0), "count-\(s.rawValue)") }
        html += card("images / min", String(format: "%.1f", rates.imagesPerMinute), "images-per-minute")
        html += card("megapixel-steps / min", String(format: "%.2f", rates.megapixelStepsPerMinute), "mps-per-minute")
        html += card("time to drain", HTML.duration(status.etaSeconds), "eta")
        html += card("oldest queued", rates.oldestQueuedSeconds.map { HTML.duration($0) } ?? "none", "oldest-queued")
        html += card("live workers", String(live), "live-workers")
        html += card("stale workers", String(stale), "stale-workers")
        html += "</div><h2>Recent batches</h2>" + (try await batches(limit: 10))
        return html
    }

    func batches(limit: Int = 50) async throws -> String {
        let (list, etas) = try await pool.run { q -> ([JobQueue.BatchSummary], [Int64: Double?]) in
            let list = try q.batches(limit: limit)
            var etas: [Int64: Double?] = [:]
            for b in list.filter({ !$0.isDone }).prefix(10) { etas[b.id] = try q.status(batch: b.id).etaSeconds }
            return (list, etas)
        }
        guard !list.isEmpty else { return "<p>No batches yet. Submit one with <code>sdfarm submit</code> or <code>POST /api/v1/batches</code>.</p>" }
        var html = "<table id=\"batches\"><tr><th>batch</th><th>name</th><th>progress</th><th>counts</th><th>ETA</th><th>actions</th></tr>"
        for b in list {
            let done = (b.counts["succeeded"] ?? 0) + (b.counts["failed"] ?? 0) + (b.counts["cancelled"] ?? 0)
            let failed = b.counts["failed"] ?? 0
            var actions = ""
            if failed > 0 { actions += HTML.action("Retry failed (\(failed))", "/api/v1/batches/\(b.id)/retry", id: "retry-batch-\(b.id)") }
            if !b.isDone {
                actions += HTML.action("Cancel", "/api/v1/batches/\(b.id)/cancel", id: "cancel-batch-\(b.id)", confirm: "Cancel batch \(b.id)?")
                actions += b.paused ? HTML.action("Resume", "/api/v1/batches/\(b.id)/resume", id: "resume-batch-\(b.id)")
                                    : HTML.action("Pause", "/api/v1/batches/\(b.id)/pause", id: "pause-batch-\(b.id)")
            }
            let eta = b.isDone ? "done" : (b.paused ? "paused" : HTML.duration(etas[b.id] ?? nil))
            html += "<tr id=\"batch-\(b.id)\"><td><a href=\"/batches/\(b.id)\">\(b.id)</a></td><td>\(HTML.escape(b.name))</td>"
            html += "<td>\(HTML.bar(done, b.total)) \(done)/\(b.total)</td><td>\(Self.counts(b.counts))</td><td>\(eta)</td><td>\(actions)</td></tr>"
        }
        return html + "</table>"
    }

    func batch(_ id: Int64) async throws -> String {
        let (b, sheet) = try await pool.run { q in (try q.batch(id), try q.sheetCells(batch: id, limit: Self.sheetLimit)) }
        let done = (b.counts["succeeded"] ?? 0) + (b.counts["failed"] ?? 0) + (b.counts["cancelled"] ?? 0)
        var html = "<p>\(HTML.escape(b.name.isEmpty ? "" : b.name + " — "))\(HTML.escape(sheet.title))</p>"
        html += "<p id=\"batch-progress\" data-done=\"\(b.isDone)\">\(HTML.bar(done, b.total)) \(done)/\(b.total) · \(Self.counts(b.counts))\(b.paused ? " · <b>paused</b>" : "")</p>"
        html += "<p><a id=\"sheet-png\" href=\"/batches/\(id)/sheet.png\" download>Download the contact sheet (PNG)</a> "
        if (b.counts["failed"] ?? 0) > 0 { html += HTML.action("Retry failed", "/api/v1/batches/\(id)/retry", id: "retry-batch-\(id)") }
        if !b.isDone {
            html += HTML.action("Cancel", "/api/v1/batches/\(id)/cancel", id: "cancel-batch-\(id)", confirm: "Cancel batch \(id)?")
            html += b.paused ? HTML.action("Resume", "/api/v1/batches/\(id)/resume", id: "resume-batch-\(id)")
                             : HTML.action("Pause", "/api/v1/batches/\(id)/pause", id: "pause-batch-\(id)")
        }
        html += "</p><table class=\"sheet\" id=\"sheet\"><tr><th></th>"
        for c in sheet.columns { html += "<th>\(HTML.escape(c))</th>" }
        html += "</tr>"
        for (r, label) in sheet.rows.enumerated() {
            html += "<tr><th>\(HTML.escape(label))</th>"
            for job in sheet.cells[r] {
                guard let job else { html += "<td></td>"; continue }
                html += "<td class=\"cell state-\(job.state.rawValue)\" id=\"cell-\(job.id)\" data-state=\"\(job.state.rawValue)\"><a href=\"/jobs/\(job.id)\">"
                switch job.state {
                case .succeeded: html += "<img src=\"/jobs/\(job.id)/image\" alt=\"job \(job.id)\" title=\"\(HTML.escape(job.parameters.prompt))\">"
                case .running: html += "running<br>step \(job.progress.step)/\(job.progress.total)"
                case .failed: html += "failed</a><div class=\"err\">\(HTML.escape(String((job.lastError ?? "").prefix(200))))</div><a>"
                case .queued: html += "queued"
                case .cancelled: html += "cancelled"
                }
                html += "</a></td>"
            }
            html += "</tr>"
        }
        html += "</table>"
        if sheet.truncated { html += "<p>The first \(Self.sheetLimit) jobs are shown; the PNG download has them all.</p>" }
        return html
    }

    func jobs(state: String?, model: String?, text: String?) async throws -> String {
        let parsedState = try state.map { s -> JobState in
            guard let v = JobState(rawValue: s) else { throw FarmError(.invalidInput, "state \(s) is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))") }
            return v
        }
        let (list, models) = try await pool.run { q in (try q.search(state: parsedState, model: model, text: text), try q.recentModels()) }
        var html = "<form id=\"filters\" method=\"get\" action=\"/jobs\">state <select name=\"state\"><option value=\"\">any</option>"
        for s in JobState.allCases { html += "<option\(s.rawValue == state ? " selected" : "")>\(s.rawValue)</option>" }
        html += "</select> model <select name=\"model\"><option value=\"\">any</option>"
        for m in models { html += "<option value=\"\(HTML.escape(m))\"\(m == model ? " selected" : "")>\(HTML.escape((m as NSString).lastPathComponent))</option>" }
        html += "</select> prompt contains <input name=\"q\" value=\"\(HTML.escape(text ?? ""))\"> <button>Filter</button></form>"
        html += "<table id=\"jobs\"><tr><th>job</th><th>batch</th><th>state</th><th>prompt</th><th>seed</th><th>progress</th><th>error</th></tr>"
        for j in list {
            html += "<tr class=\"state-\(j.state.rawValue)\"><td><a href=\"/jobs/\(j.id)\">\(j.id)</a></td><td><a href=\"/batches/\(j.batch)\">\(j.batch)</a></td>"
            html += "<td>\(j.state.rawValue)</td><td>\(HTML.escape(j.parameters.prompt))</td><td>\(j.parameters.seed)</td>"
            html += "<td>\(j.progress.step)/\(j.progress.total)</td><td class=\"err\">\(HTML.escape(String((j.lastError ?? "").prefix(120))))</td></tr>"
        }
        return html + "</table>"
    }

    func job(_ id: Int64) async throws -> String {
        let (j, attempts) = try await pool.run { q in (try q.job(id), try q.attempts(of: id)) }
        let p = j.parameters
        var rows: [(String, String)] = [("batch", "<a href=\"/batches/\(j.batch)\">\(j.batch)</a>"), ("state", j.state.rawValue),
                                        ("kind", HTML.escape(p.kind.name)), ("model", HTML.escape(p.model)),
                                        ("prompt", HTML.escape(p.prompt)), ("negative prompt", HTML.escape(p.negativePrompt)),
                                        ("seed", String(p.seed)), ("steps", String(p.steps)), ("sampler", HTML.escape(p.sampler.rawValue)),
                                        ("CFG scale", GenerationParameters.formatNumber(p.cfgScale)), ("size", p.sizeDescription),
                                        ("priority", String(j.priority)), ("attempts", "\(j.attempts)/\(j.maxAttempts)"),
                                        ("progress", "step \(j.progress.step)/\(j.progress.total)"),
                                        ("lease", HTML.escape(j.worker.map { "held by \($0)" } ?? "none")),
                                        ("last error", "<span class=\"err\">\(HTML.escape(j.lastError ?? ""))</span>")]
        switch p.kind {
        case .img2img(let input, let strength): rows.append(("init image", HTML.escape("\(input.storagePath), strength \(strength)")))
        case .interpolation(let f): rows.append(("interpolation", HTML.escape("towards \"\(f.target)\", frame \(f.frame + 1)/\(f.frames), \(f.method.rawValue)")))
        case .txt2img: break
        }
        var html = "<p>"
        if j.state == .failed || j.state == .cancelled { html += HTML.action("Retry", "/api/v1/jobs/\(id)/retry", id: "retry-job-\(id)") }
        if j.state == .queued || j.state == .running { html += HTML.action("Cancel", "/api/v1/jobs/\(id)/cancel", id: "cancel-job-\(id)") }
        html += "</p><table id=\"parameters\">" + rows.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }.joined() + "</table>"
        if j.state == .succeeded { html += "<p><img id=\"job-image\" src=\"/jobs/\(id)/image\" alt=\"job \(id)\" style=\"max-width:512px;min-width:128px;image-rendering:pixelated\"></p>" }
        html += "<h2>Reproduce</h2><pre id=\"command\">\(HTML.escape(Self.renderCommand(j, storage: server.configuration.storage)))</pre>"
        html += "<h2>Attempts</h2><table id=\"attempts\"><tr><th>#</th><th>worker</th><th>started</th><th>finished</th><th>outcome</th><th>error</th></tr>"
        for a in attempts {
            html += "<tr><td>\(a.attempt)</td><td>\(HTML.escape(a.worker))</td><td>\(HTML.escape(a.startedAt))</td><td>\(HTML.escape(a.finishedAt ?? ""))</td>"
            html += "<td>\(a.outcome.rawValue)</td><td class=\"err\">\(HTML.escape(a.error ?? ""))</td></tr>"
        }
        return html + "</table>"
    }

    /// The `sdfarm render …` command that renders this job's image on one machine.
    static func renderCommand(_ j: JobQueue.JobSummary, storage: String) -> String {
        let p = j.parameters
        var args = ["sdfarm", "render", "--model", p.model]
        switch p.kind {
        case .interpolation(let f):
            args += ["--interpolate", p.prompt, f.target, "--frames", String(f.frames)]
            if f.method == .lerp { args.append("--lerp") }
        default: args += ["--prompt", p.prompt]
        }
        if !p.negativePrompt.isEmpty { args += ["--negative-prompt", p.negativePrompt] }
        args += ["--seed", String(p.seed), "--steps", String(p.steps), "--sampler", p.sampler.rawValue,
                 "--cfg-scale", GenerationParameters.formatNumber(p.cfgScale), "--width", String(p.width), "--height", String(p.height)]
        switch p.kind {
        case .img2img(let input, let strength):
            args += ["--init-image", (storage as NSString).appendingPathComponent(input.storagePath), "--strength", GenerationParameters.formatNumber(strength), "--output", "job-\(j.id).png"]
        case .interpolation(let f):
            args += ["--output-dir", "job-\(j.id)-frames"]
            return args.map(shellQuote).joined(separator: " ") + "   # this job is frame-\(String(format: "%03d", f.frame)).png"
        case .txt2img: args += ["--output", "job-\(j.id).png"]
        }
        return args.map(shellQuote).joined(separator: " ")
    }

    static func shellQuote(_ s: String) -> String {
        if !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,+".contains($0)) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    func workers() async throws -> String {
        let (list, running) = try await pool.run { q in (try q.workers(), try q.status().running) }
        let byJob = Dictionary(running.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var html = "<table id=\"workers\"><tr><th>worker</th><th>host</th><th>models</th><th>current job</th><th>step</th><th>s / step</th><th>heartbeat</th><th>health</th></tr>"
        for w in list {
            let job = w.currentJob.flatMap { byJob[$0] }
            var perStep = ""
            if let job, job.progress.step > 0, let started = job.startedAt.flatMap({ iso.date(from: $0) }) {
                perStep = String(format: "%.2f", Date().timeIntervalSince(started) / Double(job.progress.step))
            }
            let state = w.stopped ? "stopped" : (w.alive ? "live" : "stale")
            html += "<tr><td>\(HTML.escape(w.name))</td><td>\(HTML.escape(w.host))</td><td>\(HTML.escape(w.models.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")))</td>"
            html += "<td>\(w.currentJob.map { "<a href=\"/jobs/\($0)\">\($0)</a>" } ?? "")</td><td>\(job.map { "\($0.progress.step)/\($0.progress.total)" } ?? "")</td>"
            html += "<td>\(perStep)</td><td>\(HTML.duration(w.secondsSinceHeartbeat)) ago (\(state))</td>"
            html += "<td>\(w.healthy ? "healthy" : "unhealthy: " + HTML.escape(w.healthReason ?? ""))</td></tr>"
        }
        return html + "</table>"
    }
}
