import Foundation
import RenderFormat

/// Which parameters vary in a batch, and where each job goes: columns are the last varying parameter —
/// the interpolation position (a strip in frame order), else the image-to-image strength, else the
/// seed; rows are the combinations of the other varying parameters. Parameters a batch does not use
/// (empty for every job) are left out.
///
/// Built incrementally so that a batch of any size streams through it: a `Survey` sees every job once
/// (distinct values per axis, in first-seen order), the layout is decided from it, and `place(_:)` then
/// assigns each job its cell — rows in first-seen order, every lookup a dictionary hit.
public struct ContactSheetLayout: Sendable {
    public typealias Axis = (name: String, value: @Sendable (RenderParameters) -> String)
    public static let axes: [Axis] = [
        ("prompt", { $0.prompt }), ("size", { $0.sizeDescription }), ("sampler", { $0.sampler.rawValue }),
        ("steps", { String($0.steps) }), ("cfg", { GenerationParameters.formatNumber($0.cfgScale) }),
        ("to", { if case .interpolation(let f) = $0.kind { f.target } else { "" } }),
        ("seed", { String($0.seed) }),
        ("lora", { $0.loras.map { "\(URL(fileURLWithPath: $0.path).deletingPathExtension().lastPathComponent):\(GenerationParameters.formatNumber($0.weight))" }.joined(separator: " ") }),
        ("strength", { if case .img2img(_, let s) = $0.kind { String(s) } else { "" } }),
        ("t", { if case .interpolation(let f) = $0.kind { String(format: "%.3g", f.t) } else { "" } }),
    ]

    /// Distinct values of every axis over the jobs seen so far, in first-seen order.
    public struct Survey: Sendable {
        public private(set) var values: [[String]] = Array(repeating: [], count: ContactSheetLayout.axes.count)
        private var seen: [Set<String>] = Array(repeating: [], count: ContactSheetLayout.axes.count)

        public init() {}

        public mutating func add(_ p: RenderParameters) {
            for (i, axis) in ContactSheetLayout.axes.enumerated() {
                let v = axis.value(p)
                if seen[i].insert(v).inserted { values[i].append(v) }
            }
        }
    }

    public let columnAxis: Axis?
    public let rowAxes: [Axis]
    public let columns: [String]
    /// Row labels in first-seen order; grows as `place(_:)` meets new combinations.
    public private(set) var rows: [String] = []
    public let title: String
    private let columnIndex: [String: Int]
    private var rowIndex: [String: Int] = [:]

    /// The layout decided from a survey of every job; rows are filled in by `place(_:)`.
    public init(survey: Survey) {
        let all = Array(zip(Self.axes, survey.values))
        let used = all.filter { $0.1 != [""] }
        let varying = used.filter { $0.1.count > 1 }
        let fixed = used.filter { $0.1.count == 1 }
        columnAxis = varying.last?.0
        rowAxes = varying.dropLast().map(\.0)
        columns = varying.last.map { a in a.1.map { "\(a.0.name) \($0)" } } ?? [""]
        columnIndex = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        title = fixed.map { "\($0.0.name) \($0.1[0])" }.joined(separator: ", ")
    }

    /// The layout of `all` with every row placed.
    public init(_ all: [RenderParameters]) {
        var survey = Survey()
        for p in all { survey.add(p) }
        self.init(survey: survey)
        for p in all { _ = place(p) }
    }

    /// The row labels, or one empty row when there are none.
    public var rowLabels: [String] { rows.isEmpty ? [""] : rows }

    static func label(_ p: RenderParameters, _ axes: [Axis]) -> String {
        axes.map { "\($0.name == "prompt" ? "" : $0.name + " ")\($0.value(p))" }.joined(separator: " / ")
    }

    /// The cell of `p` (row, column), adding its row when it is the first of its combination.
    public mutating func place(_ p: RenderParameters) -> (Int, Int) {
        let label = Self.label(p, rowAxes)
        let r: Int
        if let known = rowIndex[label] { r = known } else {
            r = rows.count
            rows.append(label)
            rowIndex[label] = r
        }
        let c = columnAxis.flatMap { a in columnIndex["\(a.name) \(a.value(p))"] } ?? 0
        return (r, c)
    }
}
