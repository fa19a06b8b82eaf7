import Foundation
import Synchronization

/// Keeps large freed tensor buffers for reuse.
///
/// A denoising step allocates the same large shapes every step (feed-forward activations, VAE feature
/// maps of 40–130 MB, Winograd and im2col scratch). glibc maps every allocation above 32 MB anew and the
/// kernel zeroes each page on first touch: ~9 % of a 512×512 U-Net step went to `clear_page` before this
/// pool. Buffers of at least `minimumBytes` are allocated in whole MiB, go back to the pool on release and
/// are handed out again for a request of the same size in MiB; the pool holds at most `capacityBytes`
/// (`SDFARM_BUFFER_POOL_MB`, default 512; 0 turns it off), releasing the least recently pooled first, and a
/// request the pool cannot serve first frees as many pooled bytes as it asks for, so the pool does not
/// raise the process's peak memory (pooled + live never exceeds the largest live total).
public enum BufferPool {
    static let minimumBytes = 4 << 20
    public static let capacityBytes: Int = {
        if let text = ProcessInfo.processInfo.environment["SDFARM_BUFFER_POOL_MB"], let mb = Int(text), mb >= 0 { return mb << 20 }
        return 512 << 20
    }()

    private struct Entry {
        let count: Int
        let address: UInt   // the buffer's address (a pointer is not Sendable; the pool owns the memory)
    }

    private static let state = Mutex<(entries: [Entry], bytes: Int)>(([], 0))

    /// The element count actually allocated for a request of `count` floats: whole MiB for pooled sizes.
    public static func capacity(for count: Int) -> Int {
        let count = max(count, 1)
        guard count * 4 >= minimumBytes, capacityBytes > 0 else { return count }
        let unit = (1 << 20) / 4
        return (count + unit - 1) / unit * unit
    }

    /// A buffer of `capacity(for: count)` floats, 64-byte aligned: a pooled one when there is one.
    static func allocate(count: Int) -> UnsafeMutablePointer<Float> {
        let size = capacity(for: count)
        if size * 4 >= minimumBytes, capacityBytes > 0 {
            // A hit hands out a pooled buffer; a miss first frees at least as many pooled bytes as it needs,
            // so pooled + live bytes never exceed the largest live total seen: the pool does not raise the peak.
            let (hit, evicted): (UInt?, [UInt]) = state.withLock { s in
                if let i = s.entries.lastIndex(where: { $0.count == size }) {
                    let e = s.entries.remove(at: i)
                    s.bytes -= e.count * 4
                    return (e.address, [])
                }
                var freed = 0, out: [UInt] = []
                while freed < size, !s.entries.isEmpty {
                    let e = s.entries.removeFirst()
                    s.bytes -= e.count * 4
                    freed += e.count
                    out.append(e.address)
                }
                return (nil, out)
            }
            for address in evicted { UnsafeMutableRawPointer(bitPattern: address)?.deallocate() }
            if let hit, let p = UnsafeMutablePointer<Float>(bitPattern: hit) { return p }
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size * MemoryLayout<Float>.stride, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: size)
    }

    /// Returns a buffer from `allocate(count:)` (the same `count`): pooled when large enough and it fits,
    /// freed otherwise; older pooled buffers are freed to make room.
    static func release(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let size = capacity(for: count), bytes = size * 4
        guard bytes >= minimumBytes, capacityBytes > 0, bytes <= capacityBytes else {
            UnsafeMutableRawPointer(pointer).deallocate()
            return
        }
        let evicted: [UInt] = state.withLock { s in
            var out: [UInt] = []
            while s.bytes + bytes > capacityBytes, !s.entries.isEmpty {
                let e = s.entries.removeFirst()
                s.bytes -= e.count * 4
                out.append(e.address)
            }
            s.entries.append(Entry(count: size, address: UInt(bitPattern: pointer)))
            s.bytes += bytes
            return out
        }
        for address in evicted { UnsafeMutableRawPointer(bitPattern: address)?.deallocate() }
    }

    /// Bytes the pool holds now.
    public static var pooledBytes: Int { state.withLock { $0.bytes } }
}
