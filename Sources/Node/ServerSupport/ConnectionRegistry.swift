import NIOConcurrencyHelpers
import NIOCore

/// The connections of one server, for shutdown, drain, `poplar cluster kick` and counting. A connection is in it
/// from `channelActive` to `channelInactive`; the body of `forEach` runs on each connection's own event loop.
public final class ConnectionRegistry: Sendable {
    private struct Entry: Sendable {
        let id: String
        let connection: NIOLoopBound<LineConnection>
    }

    private let entries = NIOLockedValueBox([ObjectIdentifier: Entry]())

    public init() {}

    func add(_ connection: LineConnection, id: String, on loop: EventLoop) {
        let entry = Entry(id: id, connection: NIOLoopBound(connection, eventLoop: loop))
        entries.withLockedValue { $0[ObjectIdentifier(connection)] = entry }
    }

    func remove(_ connection: LineConnection) {
        _ = entries.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    public var count: Int { entries.withLockedValue { $0.count } }

    /// Runs `body` on the event loop of every connection (or only those registered under `id`); returns how many.
    @discardableResult
    public func forEach(id: String? = nil, _ body: @escaping @Sendable (LineConnection) -> Void) -> Int {
        let targets = entries.withLockedValue { all in all.values.filter { id == nil || $0.id == id } }
        for entry in targets {
            let bound = entry.connection
            bound.eventLoop.execute { body(bound.value) }
        }
        return targets.count
    }
}
