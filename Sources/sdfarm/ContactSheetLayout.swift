import Farm
import Foundation
import RenderFormat

/// Which parameters vary in a batch, and where each job goes: columns are the last varying parameter —
/// the interpolation position (a strip in frame order), else the image-to-image strength, else the
/// seed; rows are the combinations of the other varying parameters. Parameters a batch does not use
/// (empty for every job) are left out.
struct ContactSheetLayout {
    typealias Axis = (name: String, value: @Sendable (RenderParameters) -> String)
    static let axes: [Axis] = [
        ("prompt", { $0.prompt }), ("size", { $0.sizeDescription }), ("sampler", { $0.sampler.rawValue }),
        ("steps", { String($0.steps) }), ("cfg", { Format.number($0.cfgScale) }),
        ("to", { if case .interpolation(let f) = $0.kind { f.target } else { "" } }),
        ("seed", { String($0.seed) }),
        ("strength", { if case .img2img(_, let s) = $0.kind { String(s) } else { "" } }),
        ("t", { if case .interpolation(let f) = $0.kind { String(format: "%.3g", f.t) } else { "" } }),
    ]
    let columnAxis: Axis?
    let rowAxes: [Axis]
    let columns: [String]
    let rows: [String]
    let title: String

    init(_ all: [RenderParameters]) {
        func distinct(_ a: Axis) -> [String] {
            var seen = Set<String>(), out: [String] = []
            for p in all where seen.insert(a.value(p)).inserted { out.append(a.value(p)) }
            return out
        }
        let used = Self.axes.filter { distinct($0) != [""] }
        let varying = used.filter { distinct($0).count > 1 }
        let fixed = used.filter { distinct($0).count == 1 }
        columnAxis = varying.last
        rowAxes = Array(varying.dropLast())
        columns = columnAxis.map { a in distinct(a).map { "\(a.name) \($0)" } } ?? [""]
        var rowSeen = Set<String>(), rowList: [String] = []
        for p in all {
            let label = Self.label(p, rowAxes)
            if rowSeen.insert(label).inserted { rowList.append(label) }
        }
        rows = rowList.isEmpty ? [""] : rowList
        title = fixed.compactMap { a in all.first.map { "\(a.name) \(a.value($0))" } }.joined(separator: ", ")
    }

    static func label(_ p: RenderParameters, _ axes: [Axis]) -> String {
        axes.map { "\($0.name == "prompt" ? "" : $0.name + " ")\($0.value(p))" }.joined(separator: " / ")
    }

    func position(of p: RenderParameters) -> (Int, Int) {
        let r = rows.firstIndex(of: Self.label(p, rowAxes)) ?? 0
        let c = columnAxis.flatMap { a in columns.firstIndex(of: "\(a.name) \(a.value(p))") } ?? 0
        return (r, c)
    }
}
