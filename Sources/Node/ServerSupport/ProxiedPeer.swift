import NIOCore

/// The real client behind a load balancer, announced (as a user inbound event) before `channelActive` reaches the
/// handlers behind the PROXY header decoder.
public struct ProxiedPeer: Sendable {
    public let address: SocketAddress

    public init(address: SocketAddress) {
        self.address = address
    }
}
