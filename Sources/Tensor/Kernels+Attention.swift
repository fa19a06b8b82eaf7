internal import CKernels

/// Scaled dot-product attention over interleaved heads.
extension Kernels {
    /// Multi-head scaled dot-product attention, fused and blocked (`CKernels`): per head, a block of query
    /// rows (64 on AVX-512, 16 on AVX2), transposed so that each vector holds one dimension of many rows,
    /// meets key blocks of up to 128 with an online softmax (running max and sum as vector operations), so
    /// no score tensor is larger than 64 × 128 floats; heads and query ranges are spread over `Parallel.threads`.
    ///
    /// q [B, Nq, H·d], k and v [B, Nk, H·d] (heads interleaved in the channel dimension, as PyTorch's
    /// Linear produces them) → [B, Nq, H·d]. `causal` masks keys after the query position. Head sizes above
    /// 1024 go through `attentionUnfused`.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool = false) -> Tensor {
        let bsz = q.shape[0], nq = q.shape[1], width = q.shape[2], nk = k.shape[1]
        precondition(k.shape == [bsz, nk, width] && v.shape == k.shape && width % heads == 0,
                     "attention: q \(q.shape) k \(k.shape) v \(v.shape) heads \(heads)")
        let d = width / heads
        guard d <= 1024 else { return attentionUnfused(q: q, k: k, v: v, heads: heads, causal: causal) }
        var out = Tensor(uninitializedShape: [bsz, nq, width])
        out.withUnsafeMutableBufferPointer { po in
            q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
                fusedAttention(q: pq.baseAddress!, ldq: width, k: pk.baseAddress!, v: pv.baseAddress!, ldk: width,
                               out: po.baseAddress!, batch: bsz, queries: nq, keys: nk, heads: heads, headSize: d, causal: causal)
            } } }
        }
        return out
    }

    /// Self-attention on one packed projection: `qkv` [B, N, 3·H·d] holds q, k and v side by side in each row
    /// (one GEMM with the three weight matrices stacked) → [B, N, H·d]. Same kernel as `attention`.
    public static func attention(packedQKV qkv: Tensor, heads: Int, causal: Bool = false) -> Tensor {
        let bsz = qkv.shape[0], n = qkv.shape[1], width = qkv.shape[2] / 3
        precondition(qkv.shape.count == 3 && qkv.shape[2] == 3 * width && width % heads == 0 && width / heads <= 1024,
                     "attention: packed qkv \(qkv.shape) heads \(heads)")
        var out = Tensor(uninitializedShape: [bsz, n, width])
        out.withUnsafeMutableBufferPointer { po in
            qkv.withUnsafeBufferPointer { p in
                let base = p.baseAddress!
                fusedAttention(q: base, ldq: 3 * width, k: base + width, v: base + 2 * width, ldk: 3 * width,
                               out: po.baseAddress!, batch: bsz, queries: n, keys: n, heads: heads, headSize: width / heads,
                               causal: causal)
            }
        }
        return out
    }

    /// The fused kernel over all batch items and heads; rows of q are `ldq` floats apart, of k and v `ldk`,
    /// of the output H·d, each batch item's rows contiguous.
    private static func fusedAttention(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldk: Int,
                                       out: UnsafeMutablePointer<Float>, batch bsz: Int, queries nq: Int, keys nk: Int,
                                       heads: Int, headSize d: Int, causal: Bool) {
        let width = heads * d
        let scale = Float(1 / Double(d).squareRoot())
        // Enough pieces for every thread: split query rows when there are few heads.
        let pairs = bsz * heads
        let parts = max(1, min((nq + 63) / 64, (2 * Parallel.threads + pairs - 1) / pairs))
        let rowsPerPart = (nq + parts - 1) / parts
        let scratch = Int(sdk_attention_scratch(Int32(d), Int32(nk)))
        Parallel.forEach(pairs * parts) { item in
            let pair = item / parts, part = item % parts
            let b = pair / heads, h = pair % heads
            let r0 = part * rowsPerPart, r1 = min(nq, r0 + rowsPerPart)
            guard r0 < r1 else { return }
            let kt = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
            defer { kt.deallocate() }
            sdk_attention_rows(q + b * nq * ldq + h * d, ldq, k + b * nk * ldk + h * d, v + b * nk * ldk + h * d, ldk,
                               out + b * nq * width + h * d, width,
                               Int32(d), Int32(nk), Int32(r0), Int32(r1), scale, causal ? 1 : 0, kt, 1)
        }
    }

    /// Multi-head attention through two GEMMs per tile of query rows and a softmax in between (scores of
    /// `tile × Nk` floats): the reference the fused kernel is tested against, and the path for huge heads.
    public static func attentionUnfused(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool = false) -> Tensor {
        let bsz = q.shape[0], nq = q.shape[1], width = q.shape[2], nk = k.shape[1]
        precondition(k.shape == [bsz, nk, width] && v.shape == k.shape && width % heads == 0,
                     "attention: q \(q.shape) k \(k.shape) v \(v.shape) heads \(heads)")
        let d = width / heads
        let scale = Float(1 / Double(d).squareRoot())
        let tile = max(1, min(nq, (4 << 20) / max(nk, 1)))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: tile * nk)
        defer { scores.deallocate() }
        var out = Tensor(uninitializedShape: [bsz, nq, width])
        out.withUnsafeMutableBufferPointer { po in
            q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
                for b in 0..<bsz { for h in 0..<heads {
                    let qb = pq.baseAddress! + b * nq * width + h * d
                    let kb = pk.baseAddress! + b * nk * width + h * d
                    let vb = pv.baseAddress! + b * nk * width + h * d
                    let ob = po.baseAddress! + b * nq * width + h * d
                    var r0 = 0
                    while r0 < nq {
                        let rows = min(tile, nq - r0)
                        BLAS.sgemm(transposeB: true, m: rows, n: nk, k: d, alpha: scale, a: qb + r0 * width, lda: width,
                                   b: kb, ldb: width, c: scores, ldc: nk)
                        for r in 0..<rows {
                            let row = scores + r * nk
                            let limit = causal ? min(nk, r0 + r + 1) : nk
                            var m = -Float.infinity
                            for j in 0..<limit { m = max(m, row[j]) }
                            let inv = 1 / FastMath.expShiftedSum(row, count: limit, shift: m)
                            for j in 0..<limit { row[j] *= inv }
                            if limit < nk { (row + limit).update(repeating: 0, count: nk - limit) }
                        }
                        BLAS.sgemm(m: rows, n: d, k: nk, a: scores, lda: nk, b: vb, ldb: width, c: ob + r0 * width, ldc: width)
                        r0 += rows
                    }
                } }
            } } }
        }
        return out
    }
}
