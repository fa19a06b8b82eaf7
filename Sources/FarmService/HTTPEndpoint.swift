import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 server for `/metrics` and health probes: one thread accepts and answers one
/// request per connection (GET only, no keep-alive, 8 KiB request limit, 5 s read timeout). Scrapes and
/// probes are a few requests a second at most; this avoids an HTTP framework in every worker.
// reason: the listening socket is written once in init and read by the accept thread; `stopped` is behind a lock.
public final class HTTPEndpoint: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
        public static func text(_ status: Int, _ text: String) -> Response { Response(status: status, body: Array(text.utf8)) }
    }

    /// The address actually bound (with the port the system chose for port 0).
    public let address: String
    public let port: Int
    private let fd: Int32
    private let handler: @Sendable (String) -> Response
    private let lock = NSLock()
    private var stopped = false

    /// Listens on `listen` (`HOST:PORT`, `[V6]:PORT` or `:PORT` for every address) and answers GET requests with
    /// `handler(path)`.
    /// - Throws: `ServiceError` naming the address when it cannot be parsed, resolved or bound.
    public init(listen: String, handler: @escaping @Sendable (String) -> Response) throws {
        let (host, port) = try Self.parse(listen)
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &info)
        guard rc == 0, let first = info else {
            throw ServiceError("listen address \(listen): cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { throw ServiceError("listen address \(listen): socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0, Glibc.listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ServiceError("listen address \(listen): cannot listen: \(reason)")
        }
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(withUnsafeBytes(of: bound) { raw -> UInt16 in
            // sin_port and sin6_port sit at the same offset, in network order.
            UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
        })
        self.address = host.contains(":") ? "[\(host)]:\(self.port)" : "\(host.isEmpty ? "0.0.0.0" : host):\(self.port)"
        self.fd = fd
        self.handler = handler
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "sdfarm-http"
        thread.start()
    }

    /// `HOST:PORT`, `[V6]:PORT`, `:PORT`.
    static func parse(_ listen: String) throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ServiceError("listen address \(listen): give HOST:PORT, e.g. 127.0.0.1:9464 or :9464")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    /// Stops accepting; the thread ends at its next wake-up.
    public func stop() {
        lock.lock()
        let first = !stopped
        stopped = true
        lock.unlock()
        if first { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }

    private func acceptLoop() {
        while !isStopped {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            answer(client)
            close(client)
        }
    }

    private func answer(_ client: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while request.count < 8192 {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            request += chunk[0..<n]
            if request.count >= 4, request.suffix(from: max(0, request.count - n - 3)).containsSequence(end) { break }
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let response: Response
        if line.count < 2 {
            response = .text(400, "bad request\n")
        } else if line[0] != "GET" && line[0] != "HEAD" {
            response = .text(405, "only GET\n")
        } else {
            let target = String(line[1])
            response = handler(String(target.split(separator: "?", maxSplits: 1).first ?? ""))
        }
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][response.status] ?? "Status"
        let head = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if line.first != "HEAD" { bytes += response.body }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

extension ArraySlice where Element == UInt8 {
    fileprivate func containsSequence(_ needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        var i = startIndex
        while i <= endIndex - needle.count {
            if self[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
