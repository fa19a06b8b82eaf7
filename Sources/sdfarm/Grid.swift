import ArgumentParser
import Farm
import Foundation
import Imaging

/// `sdfarm grid BATCH --output FILE.png`: a contact sheet with axes labelled by the values that vary.
struct Grid: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a contact sheet of a batch's images, axes labelled with the values that vary.")

    @OptionGroup var db: DatabaseOptions

    @Argument(help: "A batch id.")
    var batch: String

    @Option(help: "The PNG to write.")
    var output: String

    @Option(help: "Largest thumbnail side in pixels.")
    var cell = 256

    /// Jobs read per round trip.
    static let pageSize = 1000

    func run() throws {
        let batchID = try parseID(batch, what: "batch")
        guard output.lowercased().hasSuffix(".png") else { throw ValidationError("--output \(output): the contact sheet is a PNG; name it FILE.png") }
        guard (16...2048).contains(cell) else { throw ValidationError("--cell \(cell): give 16…2048") }
        let queue = try db.queue()
        try queue.requireBatch(batchID)
        // Two passes over the batch, a page at a time: the survey decides the axes, then each job is placed.
        var survey = ContactSheetLayout.Survey()
        try queue.forEachJobPage(batch: batchID, pageSize: Self.pageSize) { page in
            for job in page { survey.add(job.parameters) }
            return true
        }
        var layout = ContactSheetLayout(survey: survey)
        var cells: [[RGBImage?]] = []
        var missing = 0
        try queue.forEachJobPage(batch: batchID, pageSize: Self.pageSize) { page in
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
                                         title: "batch \(batchID): \(layout.title)", maxCellSide: cell)
        try PNGCodec.write(sheet, to: output)
        print("wrote \(output): \(layout.rowLabels.count)×\(layout.columns.count) cells\(missing > 0 ? ", \(missing) without an image (not succeeded or unreadable)" : "")")
    }
}
