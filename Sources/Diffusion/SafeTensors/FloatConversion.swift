/// Exact conversions of stored element types to float32, as plain loops over raw bytes.
///
/// Little-endian storage is assumed (the safetensors format is little-endian; so are x86-64 and arm64).
public enum FloatConversion {
    /// IEEE binary16 bits → float32, exact for every input (subnormals, ±0, ±inf, NaN payloads).
    @inline(__always)
    public static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        }
        if exponent == 0 {
            // ±0 and subnormals: mantissa × 2⁻²⁴, exact in float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// bfloat16 bits → float32 (the upper half of a float32), exact.
    @inline(__always)
    public static func float(fromBFloat16Bits b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// float8 e4m3fn → float32, exact (bias 7, no infinities, S.1111.111 is NaN).
    @inline(__always)
    public static func float(fromE4M3 v: UInt8) -> Float {
        let negative = v & 0x80 != 0
        let exponent = Int((v >> 3) & 0x0F)
        let mantissa = Float(v & 0x07)
        let magnitude: Float
        if exponent == 0x0F && v & 0x07 == 0x07 {
            magnitude = .nan
        } else if exponent == 0 {
            magnitude = mantissa * 0x1p-9
        } else {
            magnitude = (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }

    /// float8 e5m2 → float32, exact (the upper byte of a binary16).
    @inline(__always)
    public static func float(fromE5M2 v: UInt8) -> Float { float(fromHalfBits: UInt16(v) << 8) }

    /// Converts `count` elements of `dtype` at `source` into `destination`.
    public static func convert(_ source: UnsafeRawBufferPointer, dtype: DType, into destination: UnsafeMutableBufferPointer<Float>) {
        let n = destination.count
        precondition(source.count == n * dtype.byteSize, "byte count does not match element count")
        guard n > 0, let out = destination.baseAddress, let base = source.baseAddress else { return }
        /// `out[i] = f(element i)` over elements of `T`, read unaligned.
        func each<T: BitwiseCopyable>(_: T.Type, _ f: (T) -> Float) {
            for i in 0..<n { out[i] = f(base.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * i, as: T.self)) }
        }
        switch dtype {
        case .f32: UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: n * 4)
        case .f16: each(UInt16.self, float(fromHalfBits:))
        case .bf16: each(UInt16.self, float(fromBFloat16Bits:))
        case .f64: each(Double.self) { Float($0) }
        case .f8e4m3: each(UInt8.self, float(fromE4M3:))
        case .f8e5m2: each(UInt8.self, float(fromE5M2:))
        case .i64: each(Int64.self) { Float($0) }
        case .i32: each(Int32.self) { Float($0) }
        case .i16: each(Int16.self) { Float($0) }
        case .i8: each(Int8.self) { Float($0) }
        case .u64: each(UInt64.self) { Float($0) }
        case .u32: each(UInt32.self) { Float($0) }
        case .u16: each(UInt16.self) { Float($0) }
        case .u8: each(UInt8.self) { Float($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        }
    }
}
