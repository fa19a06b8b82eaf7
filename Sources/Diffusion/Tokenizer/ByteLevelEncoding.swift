/// GPT-2/CLIP's reversible byte → Unicode character table: printable Latin-1 bytes map to themselves,
/// the other 68 map in order to U+0100…U+0143, so every byte string is a string of visible characters.
enum ByteLevelEncoding {
    /// The character for each byte value.
    static let characters: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            if printable {
                table[byte] = Character(Unicode.Scalar(UInt32(byte))!)
            } else {
                table[byte] = Character(Unicode.Scalar(next)!)
                next += 1
            }
        }
        return table
    }()
}
