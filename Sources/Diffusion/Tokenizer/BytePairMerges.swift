/// CLIP's ranked BPE merges over interned symbols, applied to one pre-token in O(n log n).
///
/// Gives exactly the symbols of the textbook loop in openai/CLIP `simple_tokenizer.py` `bpe` and
/// transformers' slow `CLIPTokenizer.bpe` (REFERENCE.md §2): repeatedly take the adjacent pair with
/// the lowest rank and merge all its non-overlapping occurrences, left to right, until no pair is ranked.
/// That loop rescans the word once per round, O(n²) on a long word; here the symbols are a doubly
/// linked list and the candidate pairs sit in a min-heap keyed by (rank, position), invalidated lazily.
/// Popping one rank's entries in position order merges that rank's occurrences left to right; pairs a
/// merge creates join the heap only when the rank's round is over, as the textbook loop would see them
/// (this matters only for merge tables that rank a merge before the merges creating its parts).
/// Positions are packed in 32 bits: pre-tokens up to 2³² bytes.
struct BytePairMerges: Sendable {
    /// One merge: its rank and the symbol it produces.
    struct Rule: Sendable {
        let rank: Int32
        let merged: Int32
    }

    /// Symbol id → text. Ids 0..<256 are the byte-level characters, 256..<512 the same with `</w>`.
    let texts: [String]
    /// (left id << 32 | right id) → rule; the first rank wins for a pair listed twice.
    private let rules: [UInt64: Rule]

    /// The merge table for `merges`, in rank order.
    init(merges: [(String, String)]) {
        var texts: [String] = []
        var ids: [String: Int32] = [:]
        func intern(_ text: String) -> Int32 {
            if let id = ids[text] { return id }
            let id = Int32(texts.count)
            texts.append(text)
            ids[text] = id
            return id
        }
        for character in ByteLevelEncoding.characters { _ = intern(String(character)) }
        for character in ByteLevelEncoding.characters { _ = intern(String(character) + "</w>") }
        var rules: [UInt64: Rule] = [:]
        rules.reserveCapacity(merges.count)
        for (rank, pair) in merges.enumerated() {
            let key = Self.key(intern(pair.0), intern(pair.1))
            if rules[key] == nil { rules[key] = Rule(rank: Int32(clamping: rank), merged: intern(pair.0 + pair.1)) }
        }
        self.texts = texts
        self.rules = rules
    }

    private static func key(_ left: Int32, _ right: Int32) -> UInt64 { UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right)) }

    /// The merged symbol ids of a pre-token's UTF-8 bytes, `</w>` on the last byte.
    func apply(_ utf8: some Collection<UInt8>) -> [Int32] {
        var symbol = utf8.map { Int32($0) }
        let n = symbol.count
        guard n > 1 else { return symbol.isEmpty ? [] : [symbol[0] + 256] }
        symbol[n - 1] += 256
        // Linked list over positions; a merge keeps the left position, so positions stay in order.
        var previous = Array(-1..<(n - 1))
        var next = Array(1...n)
        var heap = PairHeap()
        /// The rank of the pair starting at a live position (a merged-away position holds −1).
        func rank(at left: Int) -> Int32? {
            let right = next[left]
            return right < n && symbol[left] >= 0 ? rules[Self.key(symbol[left], symbol[right])]?.rank : nil
        }
        var initial: [UInt64] = []
        for position in 0..<(n - 1) {
            if let r = rank(at: position) { initial.append(PairHeap.entry(rank: r, position: position)) }
        }
        heap.heapify(initial)
        var created: [UInt64] = []
        while let top = heap.popMin() {
            let round = PairHeap.rank(of: top)
            var entry = top
            // One round: every entry of this rank, by position. An entry is live when its pair is still
            // the one ranked `round` (ranks are unique per pair and symbols only grow, so a stale entry
            // never becomes live again).
            while true {
                let left = PairHeap.position(of: entry)
                if rank(at: left) == round {
                    let right = next[left]
                    symbol[left] = rules[Self.key(symbol[left], symbol[right])]!.merged
                    symbol[right] = -1
                    next[left] = next[right]
                    if next[right] < n { previous[next[right]] = left }
                    if previous[left] >= 0, let r = rank(at: previous[left]) {
                        created.append(PairHeap.entry(rank: r, position: previous[left]))
                    }
                    if let r = rank(at: left) { created.append(PairHeap.entry(rank: r, position: left)) }
                }
                guard let following = heap.min, PairHeap.rank(of: following) == round else { break }
                entry = heap.popMin()!
            }
            for pair in created { heap.push(pair) }
            created.removeAll(keepingCapacity: true)
        }
        var merged: [Int32] = []
        var position = 0
        while position < n {
            merged.append(symbol[position])
            position = next[position]
        }
        return merged
    }
}

/// A binary min-heap of candidate pairs packed as `rank << 32 | position`, so entries order by rank,
/// then by position.
private struct PairHeap {
    private var entries: [UInt64] = []

    static func entry(rank: Int32, position: Int) -> UInt64 { UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(truncatingIfNeeded: position)) }
    static func rank(of entry: UInt64) -> Int32 { Int32(truncatingIfNeeded: entry >> 32) }
    static func position(of entry: UInt64) -> Int { Int(entry & 0xFFFF_FFFF) }

    var min: UInt64? { entries.first }

    /// Replaces the contents with `items` in O(n).
    mutating func heapify(_ items: [UInt64]) {
        entries = items
        var i = entries.count / 2
        while i > 0 {
            i -= 1
            siftDown(from: i)
        }
    }

    mutating func push(_ item: UInt64) {
        entries.append(item)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child] < entries[parent] else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> UInt64? {
        guard let first = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(from: 0)
        }
        return first
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        let count = entries.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var smallest = left
            if left + 1 < count, entries[left + 1] < entries[left] { smallest = left + 1 }
            guard entries[smallest] < entries[parent] else { return }
            entries.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
