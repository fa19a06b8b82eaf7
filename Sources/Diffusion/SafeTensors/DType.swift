/// An element type of a safetensors tensor, spelled as in the file's header.
///
/// Matches the dtype strings of the safetensors format (huggingface/safetensors, `safetensors/src/tensor.rs`).
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"
    /// 8-bit floats (e4m3fn: no infinities; e5m2: IEEE-like), read by fp8 checkpoints.
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: 1
        }
    }

    /// Whether values of this type convert to float32 without rounding.
    public var convertsExactlyToFloat32: Bool {
        switch self {
        case .f32, .f16, .bf16, .i16, .i8, .u16, .u8, .bool, .f8e4m3, .f8e5m2: true
        case .f64, .i64, .i32, .u64, .u32: false
        }
    }
}
