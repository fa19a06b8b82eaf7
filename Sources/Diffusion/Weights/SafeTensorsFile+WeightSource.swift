
extension SafeTensorsFile: WeightSource {
    public var origin: String { path }
    public func contains(_ name: String) -> Bool { info(name) != nil }
    public func shape(of name: String) -> [Int]? { info(name)?.shape }
}
