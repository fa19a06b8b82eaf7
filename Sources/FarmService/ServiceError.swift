/// A service-side failure (metrics listener, systemd notification socket, password file) with what and why.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
