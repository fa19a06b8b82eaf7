public import Tensor

/// Somewhere named tensors come from: a safetensors file, a renamed view of one, a test dictionary.
public protocol WeightSource: AnyObject, Sendable {
    /// Where the tensors live, for error messages.
    var origin: String { get }
    /// True when a tensor with this name exists.
    func contains(_ name: String) -> Bool
    /// Shape of the named tensor, nil when absent.
    func shape(of name: String) -> [Int]?
    /// The named tensor converted to float32.
    func tensor(_ name: String) throws -> Tensor
}

/// A scoped view of a weight source: `weights["down_blocks.0"]["resnets.1"].load("conv1.weight", shape:)`.
public struct Weights: Sendable {
    public let source: any WeightSource
    public let prefix: String

    public init(_ source: any WeightSource, prefix: String = "") {
        self.source = source
        self.prefix = prefix
    }

    /// The full name of `name` under this scope.
    public func fullName(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    /// A narrower scope.
    public subscript(_ sub: String) -> Weights { Weights(source, prefix: fullName(sub)) }

    /// True when the scoped tensor exists.
    public func contains(_ name: String) -> Bool { source.contains(fullName(name)) }

    /// Loads a tensor and checks its shape; 1×1 convolution weights `[o, i, 1, 1]` are accepted where
    /// `[o, i]` is expected (old VAE checkpoints store attention projections that way).
    public func load(_ name: String, shape expected: [Int]) throws -> Tensor {
        let full = fullName(name)
        if let synthetic = source as? SyntheticWeights { return synthetic.make(full, shape: expected) }
        guard let actual = source.shape(of: full) else {
            throw ModelError(code: .missingTensor, origin: source.origin, tensor: full,
                             message: "expected shape \(expected)")
        }
        if actual != expected {
            let squeezable = actual.count == expected.count + 2 && Array(actual.prefix(expected.count)) == expected
                && actual.suffix(2).allSatisfy { $0 == 1 }
            guard squeezable else {
                throw ModelError(code: .wrongShape, origin: source.origin, tensor: full,
                                 message: "has shape \(actual), the model config needs \(expected)")
            }
            return try source.tensor(full).reshaped(expected)
        }
        return try source.tensor(full)
    }
}

/// Tensors held in memory (tests, converted checkpoints).
public final class InMemoryWeights: WeightSource, Sendable {
    public let origin: String
    private let tensors: [String: Tensor]

    public init(_ tensors: [String: Tensor], origin: String = "<memory>") {
        self.tensors = tensors
        self.origin = origin
    }

    public func contains(_ name: String) -> Bool { tensors[name] != nil }
    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw ModelError(code: .missingTensor, origin: origin, tensor: name, message: "not present") }
        return t
    }
}

/// A source whose names are rewritten before lookup (single-file checkpoints → diffusers names).
public final class RenamedWeights: WeightSource, Sendable {
    public let base: any WeightSource
    /// diffusers name → name in `base`.
    private let map: [String: String]
    /// diffusers name → rows of a tensor in `base` (fused projections split: OpenCLIP's `in_proj_weight`).
    private let rowSlices: [String: (String, Range<Int>)]

    public init(base: any WeightSource, map: [String: String], rowSlices: [String: (String, Range<Int>)] = [:]) {
        self.base = base
        self.map = map
        self.rowSlices = rowSlices
    }

    public var origin: String { base.origin }
    public func contains(_ name: String) -> Bool {
        if let (original, _) = rowSlices[name] { return base.contains(original) }
        return map[name].map(base.contains) ?? false
    }
    public func shape(of name: String) -> [Int]? {
        if let (original, rows) = rowSlices[name] {
            guard var s = base.shape(of: original), let first = s.first, rows.upperBound <= first else { return nil }
            s[0] = rows.count
            return s
        }
        return map[name].flatMap(base.shape(of:))
    }
    public func tensor(_ name: String) throws -> Tensor {
        if let (original, rows) = rowSlices[name] {
            guard shape(of: name) != nil else {
                throw ModelError(code: .wrongShape, origin: origin, tensor: original, message: "has too few rows to split into \(name)")
            }
            return try base.tensor(original).slice(rows)
        }
        guard let original = map[name] else {
            throw ModelError(code: .missingTensor, origin: origin, tensor: name, message: "no tensor in the checkpoint maps to it")
        }
        return try base.tensor(original)
    }
    /// The diffusers names this view offers.
    public var names: [String] { Array(map.keys) + Array(rowSlices.keys) }
}

/// Deterministic pseudo-random weights of whatever shape a layer asks for: benchmarks of full-size
/// architectures without a checkpoint file. Values ~ U(−a, a) with a = √(3/fan_in), norm weights 1.
public final class SyntheticWeights: WeightSource, Sendable {
    public let origin = "<synthetic weights>"
    public init() {}
    public func contains(_ name: String) -> Bool { true }
    public func shape(of name: String) -> [Int]? { nil }
    public func tensor(_ name: String) throws -> Tensor {
        throw ModelError(code: .missingTensor, origin: origin, tensor: name, message: "synthetic weights need a shape")
    }

    func make(_ name: String, shape: [Int]) -> Tensor {
        let isNorm = name.contains("norm") && shape.count == 1
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
        let amplitude = Float((3.0 / Double(fanIn)).squareRoot())
        var state = UInt64(truncatingIfNeeded: name.hashValue) | 1
        return Tensor(shape: shape) { b in
            if isNorm && name.hasSuffix("weight") { b.initialize(repeating: 1); return }
            let scale = shape.count == 1 ? Float(0.02) : amplitude
            for i in b.indices {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                b[i] = (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
            }
        }
    }
}
