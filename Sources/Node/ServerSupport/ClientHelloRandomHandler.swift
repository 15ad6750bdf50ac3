import NIOCore

/// Placed in front of the TLS handler: reads the ClientHello's random (the key the key log names a handshake by,
/// `TLSExporterSecrets`) from the first bytes the peer sends, passes every byte on unchanged, and leaves the pipeline
/// once it has them (at most `prefixLength` bytes are copied).
public final class ClientHelloRandomHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// Record header (5: type 22, version, length), handshake header (4: type 1, length), legacy_version (2), random (32).
    static let prefixLength = 43
    private var prefix: [UInt8] = []
    private var done = false
    private let found: ([UInt8]) -> Void

    public init(found: @escaping ([UInt8]) -> Void) {
        self.found = found
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done {
            let buffer = unwrapInboundIn(data)
            let wanted = Self.prefixLength - prefix.count
            prefix += buffer.getBytes(at: buffer.readerIndex, length: min(wanted, buffer.readableBytes)) ?? []
            if let random = Self.random(prefix) {
                done = true
                found(random)
            } else if prefix.count >= Self.prefixLength || !Self.couldBeClientHello(prefix) {
                done = true
            }
        }
        context.fireChannelRead(data)
        if done { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    static func couldBeClientHello(_ bytes: [UInt8]) -> Bool {
        (bytes.count < 1 || bytes[0] == 0x16) && (bytes.count < 6 || bytes[5] == 0x01)
    }

    static func random(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= prefixLength, couldBeClientHello(bytes) else { return nil }
        return Array(bytes[11..<43])
    }
}
