import Foundation
import Logging

/// Logging for the CLI: swift-log to standard error, level from `SDFARM_LOG_LEVEL` (default warning).
enum CLILogging {
    static let bootstrapped: Bool = {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["SDFARM_LOG_LEVEL"] ?? "") ?? .warning
            return handler
        }
        return true
    }()

    static func logger(_ label: String) -> Logger {
        _ = bootstrapped
        return Logger(label: label)
    }

    /// The queue commands' logger: notices and above.
    static let quiet: Logger = {
        var l = Logger(label: "sdfarm")
        l.logLevel = .notice
        return l
    }()
}
