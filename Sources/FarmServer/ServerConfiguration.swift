import Foundation

/// What `sdfarm serve` was asked to do, checked: where to listen, the storage root, the API token.
///
/// Security rules enforced here: the default address is loopback; any other address needs a token
/// (`SDFARM_API_TOKEN` or a token file). On loopback without one, a random token is written to the token file
/// (mode 0600) so the operator can enter it in the page; actions always need it.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The shared storage root: images are served only from below it.
    public var storage: String
    /// The bearer token every API request and every action needs.
    public var token: String
    /// Where the token was found or written (for the startup message).
    public var tokenSource: String
    /// The largest request body accepted (bytes).
    public var maxBodyBytes: Int
    /// The database connection string (nil: `DATABASE_URL`, then the `PG*` variables).
    public var database: String?
    /// Deliver webhooks from this process.
    public var webhooks: Bool

    /// The default address.
    public static let defaultListen = "127.0.0.1:8420"
    /// The default body limit: enough for a 4096² init image in base64, no more.
    public static let defaultMaxBodyBytes = 64 << 20

    /// A configuration error: the message says what to do.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `listen` (`HOST:PORT`, `[IPv6]:PORT`) and resolves the token.
    /// - Parameters:
    ///   - environmentToken: `SDFARM_API_TOKEN`, if set.
    ///   - tokenFile: a file holding the token; created with a random token when missing and listening on loopback.
    public init(listen: String, storage: String, environmentToken: String?, tokenFile: String?, database: String?,
                maxBodyBytes: Int = defaultMaxBodyBytes, webhooks: Bool = true) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw Invalid(description: "--listen \(listen): give HOST:PORT, e.g. \(Self.defaultListen)")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw Invalid(description: "--listen \(listen): the host is empty; give e.g. \(Self.defaultListen)") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: storage, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Invalid(description: "--storage \(storage) is not a folder; give the shared storage the workers write to")
        }
        self.host = host
        self.port = port
        self.storage = URL(fileURLWithPath: storage).standardizedFileURL.resolvingSymlinksInPath().path
        self.database = database
        self.maxBodyBytes = maxBodyBytes
        self.webhooks = webhooks
        let loopback = Self.isLoopback(host)
        if let t = environmentToken, !t.isEmpty {
            try Self.checkStrength(t, source: "SDFARM_API_TOKEN")
            token = t
            tokenSource = "SDFARM_API_TOKEN"
        } else if let tokenFile {
            if let data = FileManager.default.contents(atPath: tokenFile) {
                let t = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                try Self.checkStrength(t, source: "token file \(tokenFile)")
                token = t
                tokenSource = tokenFile
            } else if loopback {
                let t = Self.randomToken()
                let fd = open(tokenFile, O_WRONLY | O_CREAT | O_EXCL, 0o600)
                guard fd >= 0 else { throw Invalid(description: "cannot create the token file \(tokenFile): \(String(cString: strerror(errno)))") }
                let line = Array((t + "\n").utf8)
                let written = write(fd, line, line.count)
                close(fd)
                guard written == line.count else { throw Invalid(description: "cannot write the token file \(tokenFile)") }
                token = t
                tokenSource = "\(tokenFile) (new)"
            } else {
                throw Invalid(description: "--listen \(listen) is not a loopback address and the token file \(tokenFile) does not exist; create it (e.g. `openssl rand -hex 32 > \(tokenFile)`) or set SDFARM_API_TOKEN")
            }
        } else if loopback {
            token = Self.randomToken()
            tokenSource = "generated for this process (printed below)"
        } else {
            throw Invalid(description: "--listen \(listen) is not a loopback address; sdfarm serve listens beyond this machine only with a token: set SDFARM_API_TOKEN or give --token-file FILE")
        }
    }

    /// True for `localhost`, 127.0.0.0/8 and ::1.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Whether this server listens on loopback only (read-only pages are then open without the token).
    public var isLoopback: Bool { Self.isLoopback(host) }

    static func checkStrength(_ token: String, source: String) throws {
        guard token.count >= 16, token.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else {
            throw Invalid(description: "the token from \(source) must be at least 16 printable ASCII characters without spaces")
        }
    }

    static func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}
