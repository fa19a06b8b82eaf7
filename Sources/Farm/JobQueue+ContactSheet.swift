import Foundation
public import Imaging

/// A batch's contact sheet on its grid's axes (`ContactSheetLayout`): as a PNG (`sdfarm grid`, the dashboard's
/// download) and as cells of jobs (the dashboard's live sheet).
extension JobQueue {
    /// Jobs read per round trip.
    static let sheetPageSize = 1000

    /// A composed contact sheet.
    public struct ComposedSheet {
        public let image: RGBImage
        public let rows: Int
        public let columns: Int
        /// Cells without an image (not succeeded, or the file unreadable).
        public let missing: Int
    }

    /// The contact sheet of batch `id`, thumbnails at most `cell` pixels on a side. Two passes over the batch, a
    /// page at a time (the survey decides the axes, then each job is placed), never holding the job list.
    /// - Throws: `notFound`; `PostgresError`.
    public func contactSheet(batch id: Int64, cell: Int) throws -> ComposedSheet {
        try requireBatch(id)
        var survey = ContactSheetLayout.Survey()
        try forEachJobPage(batch: id, pageSize: Self.sheetPageSize) { page in
            for job in page { survey.add(job.parameters) }
            return true
        }
        var layout = ContactSheetLayout(survey: survey)
        var cells: [[RGBImage?]] = []
        var missing = 0
        try forEachJobPage(batch: id, pageSize: Self.sheetPageSize) { page in
            for job in page {
                let (r, c) = layout.place(job.parameters)
                while cells.count <= r { cells.append(Array(repeating: nil, count: layout.columns.count)) }
                if job.state == .succeeded, let path = job.outputPath, let decoded = try? PNGCodec.read(path: path) {
                    cells[r][c] = decoded.image
                } else {
                    missing += 1
                }
            }
            return true
        }
        if cells.isEmpty { cells = [Array(repeating: nil, count: layout.columns.count)] }
        let sheet = ContactSheet.compose(cells: cells, columnLabels: layout.columns, rowLabels: layout.rowLabels,
                                         title: "batch \(id): \(layout.title)", maxCellSide: cell)
        return ComposedSheet(image: sheet, rows: layout.rowLabels.count, columns: layout.columns.count, missing: missing)
    }

    /// The jobs of a batch placed on its grid: what the dashboard draws as a live contact sheet.
    public struct SheetCells: Sendable {
        public let title: String
        public let columns: [String]
        public let rows: [String]
        /// `cells[row][column]`: the job there (nil where the grid has no job).
        public let cells: [[JobSummary?]]
        /// True when the batch has more than the jobs placed.
        public let truncated: Bool
    }

    /// The first `limit` jobs of batch `id` (in cell order) placed on the batch's axes.
    /// - Throws: `notFound`; `PostgresError`.
    public func sheetCells(batch id: Int64, limit: Int) throws -> SheetCells {
        let jobs = try jobs(batch: id, limit: limit + 1)
        let shown = Array(jobs.prefix(limit))
        var layout = ContactSheetLayout(shown.map(\.parameters))
        var cells: [[JobSummary?]] = Array(repeating: Array(repeating: nil, count: layout.columns.count), count: layout.rowLabels.count)
        for job in shown {
            let (r, c) = layout.place(job.parameters)
            cells[r][c] = job
        }
        return SheetCells(title: layout.title, columns: layout.columns, rows: layout.rowLabels, cells: cells, truncated: jobs.count > limit)
    }
}
