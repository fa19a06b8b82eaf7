import Farm
import Foundation
import Testing
import TestSupport

/// Bad input to every command: a clear error naming the problem, a non-zero exit, nothing written.
extension FarmIntegrationTests {
    @Test("bad input to submit names the problem, exits non-zero and writes nothing")
    func badSubmitInput() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let emptyPrompts = db.dir.appendingPathComponent("empty.txt").path
        _ = FileManager.default.createFile(atPath: emptyPrompts, contents: Data("\n# nothing\n".utf8))
        let base = ["submit", "--database", db.url, "--model", db.model]
        let cases: [([String], String)] = [
            (base + ["--prompt", "x", "--seeds", "1,,2"], "--seeds"),
            (base + ["--prompt", "x", "--seeds", "9-3"], "backwards"),
            (base + ["--prompt", "x", "--seeds", "one"], "'one'"),
            (base + ["--prompt", "x", "--size", "512"], "'512' is not WIDTHxHEIGHT"),
            (base + ["--prompt", "x", "--size", "500x512"], "multiple of 8"),
            (base + ["--prompt", "x", "--size", "8192x512"], "4096"),
            (base + ["--prompt", "x", "--sampler", "plms"], "--sampler 'plms' is unknown"),
            (base + ["--prompt", "x", "--steps", "0"], "--steps"),
            (base + ["--prompt", "x", "--cfg-scale", "inf"], "--cfg-scale"),
            (base + ["--prompt", "   "], "prompt is empty"),
            (base + ["--prompts", emptyPrompts], "has no prompts"),
            (base + ["--prompts", db.dir.appendingPathComponent("nope.txt").path], "does not exist"),
            (["submit", "--database", db.url, "--model", db.dir.appendingPathComponent("missing.safetensors").path, "--prompt", "x"], "missing.safetensors does not exist"),
            (["submit", "--database", db.url, "--model", db.dir.appendingPathComponent("m.ckpt").path, "--prompt", "x"], ".ckpt"),
            (base, "--prompt"),
            (base + ["--prompt", "x", "--max-attempts", "0"], "--max-attempts"),
            (base + ["--prompt", "x", "--prompt-syntax", "compel"], "--prompt-syntax 'compel' is unknown"),
            (base + ["--prompt", "a (cat:1.2.3)", "--prompt-syntax", "a1111"], "'1.2.3'"),
            (base + ["--prompt", "x", "--lora", "/nonexistent/style.safetensors:0.5"], "--lora file /nonexistent/style.safetensors does not exist"),
            (base + ["--prompt", "x", "--lora", "style.safetensors:0.5,11"], "--lora weight must be a finite number from -10 to 10, got 11"),
            (base + ["--prompt", "<lora:nope:0.5> x", "--lora-dir", RepositoryPaths.fixture("lora")], "LoRA 'nope' is not in"),
            (base + ["--prompt", "<lora:nope:0.5> x"], "--lora-dir"),
            (base + ["--prompt", "x", "--lora", RepositoryPaths.fixture("lora/kohya-locon.safetensors")], "another architecture"),
        ]
        for (args, mention) in cases {
            let r = try Harness.run("sdfarm", args)
            #expect(r.status != 0, "\(args.suffix(2)) should fail")
            #expect(r.stderr.contains(mention), "\(args.suffix(2)): stderr should mention \(mention): \(r.stderr)")
        }
        #expect(try db.count("SELECT count(*) FROM batches") == 0)
        #expect(try db.count("SELECT count(*) FROM jobs") == 0)
    }

    @Test("unknown batch and job ids, bad states and an unreachable database are clear errors")
    func badReferences() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit()
        let d = ["--database", db.url]
        let cases: [([String], String)] = [
            (["status", "4242"] + d, "batch 4242 does not exist"),
            (["jobs", "--batch", "4242"] + d, "batch 4242 does not exist"),
            (["watch", "4242"] + d, "batch 4242 does not exist"),
            (["grid", "4242", "--output", db.dir.appendingPathComponent("g.png").path] + d, "batch 4242 does not exist"),
            (["cancel", "--batch", "4242"] + d, "batch 4242 does not exist"),
            (["retry", "--batch", "4242"] + d, "batch 4242 does not exist"),
            (["show", "777"] + d, "job 777 does not exist"),
            (["cancel", "777"] + d, "job 777 does not exist"),
            (["retry", "777"] + d, "job 777 does not exist"),
            (["show", "abc"] + d, "'abc' is not an id"),
            (["jobs", "--state", "done"] + d, "'done' is not a state"),
            (["retry"] + d, "exactly one"),
            (["status", "--database", "postgresql://sdfarm@127.0.0.1:1/none?connect_timeout=2"], "cannot connect to PostgreSQL"),
            (["submit", "--model", db.model, "--prompt", "x", "--database", "postgresql://sdfarm@127.0.0.1:1/none?connect_timeout=2"], "cannot connect to PostgreSQL"),
        ]
        for (args, mention) in cases {
            let r = try Harness.run("sdfarm", args)
            #expect(r.status != 0, "\(args) should fail")
            #expect(r.stderr.contains(mention), "\(args): stderr should mention \(mention): \(r.stderr)")
        }
        #expect(try db.queue.jobs(batch: s.batchID).map(\.state) == [.queued], "nothing changed")
        let w = try Harness.run("sdfarm-worker", ["--storage", db.storage, "--database", db.url, "--renderer", "pixels"])
        #expect(w.status != 0 && w.stderr.contains("unknown renderer"))
        let l = try Harness.run("sdfarm-worker", ["--storage", db.storage, "--database", db.url, "--lease", "0.1"])
        #expect(l.status != 0 && l.stderr.contains("--lease"))
    }

    @Test("the CLI's listings: submit, status/jobs/show/workers as JSON, grid writes a labelled contact sheet")
    func listingsAndGrid() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let sub = try Harness.run("sdfarm", ["submit", "--database", db.url, "--model", db.model, "--prompt", "red", "--prompt", "blue",
                                             "--seeds", "1-3", "--cfg-scale", "5,7.5", "--size", "32x32", "--steps", "2", "--json"])
        #expect(sub.status == 0 && sub.stdout.contains("\"jobs\" : 12"))
        let worker = try Harness.WorkerProcess(db, name: "w", msPerStep: 0, extra: ["--exit-when-idle"])
        #expect(worker.wait(timeout: 30) == 0)
        let status = try Harness.run("sdfarm", ["status", "1", "--json", "--database", db.url])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((json?["counts"] as? [String: Int]) == ["queued": 0, "running": 0, "succeeded": 12, "failed": 0, "cancelled": 0])
        let jobs = try Harness.run("sdfarm", ["jobs", "--batch", "1", "--json", "--database", db.url])
        let list = try JSONSerialization.jsonObject(with: Data(jobs.stdout.utf8)) as? [[String: Any]]
        #expect(list?.count == 12)
        #expect(list?.first.map { Set($0.keys).isSuperset(of: ["id", "state", "parameters", "attempts", "output_path"]) } == true)
        let show = try Harness.run("sdfarm", ["show", "1", "--json", "--database", db.url])
        #expect(show.status == 0 && show.stdout.contains("\"attempts\""))
        let workers = try Harness.run("sdfarm", ["workers", "--json", "--database", db.url])
        #expect(workers.status == 0 && workers.stdout.contains("\"name\" : \"w\""))
        let sheet = db.dir.appendingPathComponent("sheet.png").path
        let grid = try Harness.run("sdfarm", ["grid", "1", "--output", sheet, "--database", db.url])
        #expect(grid.status == 0 && grid.stdout.contains("4×3 cells"), "\(grid.stdout)")
        #expect(FileManager.default.fileExists(atPath: sheet))
    }
}
