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

    func run() throws {
        let batchID = try parseID(batch, what: "batch")
        guard output.lowercased().hasSuffix(".png") else { throw ValidationError("--output \(output): the contact sheet is a PNG; name it FILE.png") }
        guard (16...2048).contains(cell) else { throw ValidationError("--cell \(cell): give 16…2048") }
        let composed = try db.queue().contactSheet(batch: batchID, cell: cell)
        let (sheet, missing) = (composed.image, composed.missing)
        try PNGCodec.write(sheet, to: output)
        print("wrote \(output): \(composed.rows)×\(composed.columns) cells\(missing > 0 ? ", \(missing) without an image (not succeeded or unreadable)" : "")")
    }
}
