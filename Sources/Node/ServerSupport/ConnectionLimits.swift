import NIOCore

/// The named bounds every line-oriented listener (POP3, SMTP, LMTP, socketmap) holds a peer to, whatever it sends.
/// Together they bound one connection's memory: input waiting to be framed, output waiting to be taken.
public enum ConnectionLimits {
    /// Bytes a peer may send ahead (pipelining) that are not yet framed into commands; past this the connection
    /// stops reading until the session has worked through them (the kernel's socket buffer then fills and TCP
    /// flow control pushes back on the peer).
    public static let maxPipelinedInput = 64 * 1024

    /// Output written and not yet taken by the peer, above which the connection stops reading and stops working
    /// through pipelined commands (NIO's high water mark; reading resumes below `resumeOutputBelow`). A client that
    /// sends commands and never reads the answers holds at most this much of the server's memory in output.
    public static let maxUnflushedOutput = 64 * 1024
    /// Reading resumes once the output waiting for the peer is below this (NIO's low water mark).
    public static let resumeOutputBelow = 32 * 1024

    /// Answers are flushed at least every this many bytes while pipelined commands are worked through, so the
    /// output is counted where back-pressure sees it (TLS holds unflushed plaintext above the socket).
    public static let flushEvery = 16 * 1024

    /// The water marks every listener's child channel is configured with.
    public static var writeBufferWaterMark: ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: resumeOutputBelow, high: maxUnflushedOutput)
    }
}
