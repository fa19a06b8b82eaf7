/// The 32-bit Mersenne Twister (Matsumoto & Nishimura 1998), seeded with `init_genrand`.
struct MT19937: Sendable {
    private static let n = 624
    private static let m = 397
    private var state: [UInt32]
    private var index: Int

    init(seed: UInt32) {
        var state = [UInt32](repeating: 0, count: Self.n)
        state[0] = seed
        for j in 1..<Self.n {
            let previous = state[j - 1]
            state[j] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
        }
        self.state = state
        index = Self.n
    }

    mutating func next() -> UInt32 {
        if index >= Self.n { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        state.withUnsafeMutableBufferPointer { s in
            let n = Self.n, m = Self.m
            for k in 0..<n {
                let y = (s[k] & 0x8000_0000) | (s[(k + 1) % n] & 0x7FFF_FFFF)
                var value = s[(k + m) % n] ^ (y >> 1)
                if y & 1 != 0 { value ^= 0x9908_B0DF }
                s[k] = value
            }
        }
        index = 0
    }
}
