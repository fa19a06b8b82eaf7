public import Tensor
import Foundation

/// A weight source with LoRA updates added: `tensor(name)` is the base tensor plus its delta. The base stays
/// untouched (a memory-mapped file), so another LoRA set is another view of the same loaded weights.
public final class LoRAMergedWeights: WeightSource, Sendable {
    public let base: any WeightSource
    /// Base weight name → the summed `w·(α/r)·up·down`, in the base tensor's shape.
    let deltas: [String: Tensor]

    init(base: any WeightSource, deltas: [String: Tensor]) {
        self.base = base
        self.deltas = deltas
    }

    public var origin: String { base.origin }
    public func contains(_ name: String) -> Bool { base.contains(name) }
    public func shape(of name: String) -> [Int]? { base.shape(of: name) }
    public func tensor(_ name: String) throws -> Tensor {
        let t = try base.tensor(name)
        guard let delta = deltas[name] else { return t }
        return t + delta
    }

    /// The base weight each pair of `file` for `component` updates, with its shape.
    ///
    /// - Parameter names: every tensor name of the base (kohya's underscored module names are resolved against them;
    ///   text-encoder names match with or without `text_model.`).
    /// - Throws: `ModelError` naming the LoRA and layer when a layer is not in the model or its shape differs (a LoRA
    ///   for another architecture).
    static func targets(_ file: LoRAFile, component: LoRAFile.Component, shapes: (String) -> [Int]?,
                        names: [String]) throws -> [(pair: LoRAFile.Pair, target: String, shape: [Int])] {
        func normalized(_ module: String) -> String {
            var m = module
            if component == .textEncoder {
                if m.hasPrefix("text_model.") { m.removeFirst("text_model.".count) } else if m.hasPrefix("text_model_") { m.removeFirst("text_model_".count) }
            }
            return m
        }
        var byModule: [String: String] = [:], byUnderscored: [String: String] = [:]
        for name in names where name.hasSuffix(".weight") {
            let module = normalized(String(name.dropLast(".weight".count)))
            byModule[module] = name
            byUnderscored[module.replacingOccurrences(of: ".", with: "_")] = name
        }
        return try file.pairs.filter { $0.component == component }.map { pair in
            let module = normalized(pair.module)
            guard let target = byModule[module] ?? byUnderscored[module], let shape = shapes(target) else {
                throw ModelError(code: .wrongShape, origin: file.path, tensor: pair.module,
                                 message: "LoRA \(file.name): the \(component.rawValue) has no layer \(pair.module); this LoRA is for another architecture")
            }
            let out0 = pair.up.shape[0], inner = pair.down.count / pair.rank
            guard shape.first == out0, shape.reduce(1, *) == out0 * inner else {
                throw ModelError(code: .wrongShape, origin: file.path, tensor: pair.module,
                                 message: "LoRA \(file.name): the update is \(out0)×\(inner) but the model's \(target) is \(shape); this LoRA is for another architecture")
            }
            return (pair, target, shape)
        }
    }

    /// The deltas of `loras` (file and weight each) for the layers of `component`, keyed by the base's names.
    /// - Throws: `ModelError` when a LoRA does not fit (see `targets`).
    static func deltas(_ loras: [(file: LoRAFile, weight: Float)], component: LoRAFile.Component, base: any WeightSource,
                       names: [String]) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (file, weight) in loras {
            for (pair, target, shape) in try targets(file, component: component, shapes: base.shape(of:), names: names) {
                let out0 = pair.up.shape[0], rank = pair.rank
                let inner = pair.down.count / rank
                // up [out, r] · down [r, in·k·k] through GEMM: linear(up, weight: downᵀ) = up · down.
                let downT = Tensor(shape: [inner, rank]) { t in
                    pair.down.withUnsafeBufferPointer { d in
                        for r in 0..<rank { for i in 0..<inner { t[i * rank + r] = d[r * inner + i] } }
                    }
                }
                let product = Kernels.linear(pair.up.reshaped([out0, rank]), weight: downT, bias: nil)
                let scaled = (product * (weight * pair.scale)).reshaped(shape)
                out[target] = out[target].map { $0 + scaled } ?? scaled
            }
        }
        return out
    }
}
