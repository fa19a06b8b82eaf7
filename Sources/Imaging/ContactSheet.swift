/// Lays images out in a labelled grid: a title line, column labels on top, row labels on the left.
public enum ContactSheet {
    /// Composes `cells` (rows of columns; nil draws a grey "missing" cell) into one image. Each image is
    /// scaled (nearest neighbour) so its longer side is at most `maxCellSide`; images at most half that
    /// size are enlarged by a whole factor (pixels stay crisp) so tiny renders stay visible.
    /// `maxCellSide` is taken within 1…`PNGCodec.Limits.standard.maxSide`.
    public static func compose(cells: [[RGBImage?]], columnLabels: [String], rowLabels: [String], title: String,
                               maxCellSide: Int = 256) -> RGBImage {
        // Kept within 1…Limits.standard.maxSide so the Double → Int sizes below cannot overflow and trap.
        let maxCellSide = min(max(maxCellSide, 1), PNGCodec.Limits.standard.maxSide)
        let images = cells.flatMap { $0 }.compactMap { $0 }
        let nativeW = images.map(\.width).max() ?? maxCellSide
        let nativeH = images.map(\.height).max() ?? maxCellSide
        let ratio = Double(maxCellSide) / Double(max(nativeW, nativeH))
        let scale = ratio >= 2 ? ratio.rounded(.down) : min(1.0, ratio)
        let cellW = max(8, Int(Double(nativeW) * scale)), cellH = max(8, Int(Double(nativeH) * scale))
        let pad = 6, textH = BitmapFont.glyphHeight
        let labelChars = max(1, cellW / BitmapFont.advance)
        let clippedColumns = columnLabels.map { clip($0, labelChars) }
        let clippedRows = rowLabels.map { clip($0, 48) }
        let rowLabelW = (clippedRows.map { BitmapFont.width(of: $0) }.max() ?? 0) + (clippedRows.allSatisfy(\.isEmpty) ? 0 : 2 * pad)
        let columns = max(1, cells.map(\.count).max() ?? 1)
        let titleH = textH + 2 * pad, headerH = clippedColumns.allSatisfy(\.isEmpty) ? 0 : textH + pad
        let width = max(rowLabelW + pad + columns * (cellW + pad), BitmapFont.width(of: title) + 2 * pad)
        let height = titleH + headerH + cells.count * (cellH + pad) + pad
        var sheet = RGBImage(width: width, height: height, fill: (255, 255, 255))
        BitmapFont.draw(title, into: &sheet, x: pad, y: pad)
        for (c, label) in clippedColumns.enumerated() {
            let x0 = rowLabelW + pad + c * (cellW + pad)
            BitmapFont.draw(label, into: &sheet, x: x0 + max(0, (cellW - BitmapFont.width(of: label)) / 2), y: titleH)
        }
        for (r, row) in cells.enumerated() {
            let y0 = titleH + headerH + r * (cellH + pad)
            if r < clippedRows.count {
                BitmapFont.draw(clippedRows[r], into: &sheet, x: pad, y: y0 + (cellH - textH) / 2)
            }
            for c in 0..<columns {
                let x0 = rowLabelW + pad + c * (cellW + pad)
                if c < row.count, let image = row[c] {
                    blit(image, into: &sheet, x: x0, y: y0, width: cellW, height: cellH)
                } else {
                    fill(&sheet, x: x0, y: y0, width: cellW, height: cellH, color: (200, 200, 200))
                    BitmapFont.draw("missing", into: &sheet, x: x0 + 2, y: y0 + 2, color: (90, 90, 90))
                }
            }
        }
        return sheet
    }

    static func clip(_ s: String, _ n: Int) -> String {
        s.count <= n ? s : String(s.prefix(max(0, n - 1))) + "…"
    }

    static func fill(_ image: inout RGBImage, x: Int, y: Int, width: Int, height: Int, color: (UInt8, UInt8, UInt8)) {
        for yy in y..<min(image.height, y + height) {
            for xx in x..<min(image.width, x + width) { image[xx, yy] = color }
        }
    }

    /// Nearest-neighbour scale of `src` into the box, aspect preserved, centred.
    static func blit(_ src: RGBImage, into dst: inout RGBImage, x: Int, y: Int, width: Int, height: Int) {
        let s = min(Double(width) / Double(src.width), Double(height) / Double(src.height))
        let w = max(1, Int(Double(src.width) * s)), h = max(1, Int(Double(src.height) * s))
        let ox = x + (width - w) / 2, oy = y + (height - h) / 2
        src.pixels.withUnsafeBufferPointer { sp in
            dst.pixels.withUnsafeMutableBufferPointer { dp in
                for j in 0..<h {
                    let sy = min(src.height - 1, Int(Double(j) / s)), dy = oy + j
                    guard dy >= 0, dy < dst.height else { continue }
                    for i in 0..<w {
                        let sx = min(src.width - 1, Int(Double(i) / s)), dx = ox + i
                        guard dx >= 0, dx < dst.width else { continue }
                        let si = (sy * src.width + sx) * 3, di = (dy * dst.width + dx) * 3
                        dp[di] = sp[si]; dp[di + 1] = sp[si + 1]; dp[di + 2] = sp[si + 2]
                    }
                }
            }
        }
    }
}
