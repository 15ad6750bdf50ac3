/// What the handler must do next: the state machine's only output.
public enum POP3Action: Sendable, Equatable {
    /// Nothing to do.
    case none
    /// Write the reply (RFC 1939 §3) and read the next line.
    case send(POP3Response)
    /// Write the reply, then close the connection without UPDATE (RFC 1939 §3, §6).
    case sendAndClose(POP3Response)
    /// RFC 1939 §7 (USER/PASS, APOP), RFC 5034 (AUTH): verify, take the mailbox, then call
    /// `authenticationCompleted`.
    case authenticate(POP3Credentials)
    /// RFC 5802: fetch the SCRAM keys of this user name (or keys that match no password when it is no account
    /// here), then call `scramKeysLoaded`.
    case lookupSCRAM(user: String)
    /// RFC 2595 §4: send the reply, then start TLS. Bytes already buffered after the STLS line must be discarded,
    /// never read as commands of the TLS session.
    case startTLS(POP3Response)
    /// RFC 1939 §5 RETR (`topBodyLines` nil) or §7 TOP: send "+OK <size> octets" and stream the message with
    /// `MessageStreamer`.
    case retrieve(index: Int, message: POP3Message, topBodyLines: Int?)
    /// RFC 1939 §6, QUIT in TRANSACTION: fence, delete these (in message-number order; possibly none), release the
    /// mailbox, then call `updateCompleted`.
    case update(deletions: [POP3Message])
}
