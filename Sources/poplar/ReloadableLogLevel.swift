import Logging
import Synchronization

/// The process's log level, which SIGHUP may change (`log.level`): every logger made by `bootstrapLogging` reads it
/// at each message, unless code set a level of its own on that logger.
enum ProcessLogLevel {
    private static let level = Mutex<Logger.Level>(.info)
    static var current: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
}

/// A handler whose level is the process's (`ProcessLogLevel`); the text or JSON handler inside only writes.
struct ProcessLevelHandler<Inner: LogHandler>: LogHandler {
    var inner: Inner
    private var override: Logger.Level?

    init(_ inner: Inner) { self.inner = inner }

    var logLevel: Logger.Level {
        get { override ?? ProcessLogLevel.current }
        set { override = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { inner.log(event: event) }
}
