import CPAM
import Glibc
import XCTest

@testable import Node

/// The pieces of the PAM directory that need no account: the Unix name rule, and the conversation function called
/// as libpam calls it (an array of message pointers, replies freed by the caller).
final class PAMConversationTests: XCTestCase {
    func testTheUnixNameRule() {
        for name in ["a", "_", "bob", "bob-smith", "b0b_1", "_svc-1", String(repeating: "a", count: UnixUserName.maxLength)] {
            XCTAssertTrue(UnixUserName.isValid(name), name)
        }
        for name in ["", "9lives", "-bob", "Bob", "bob smith", "bob.smith", "../x", "bob$", "bob~", "émile", "b\u{0301}ob", "bob\0",
                     String(repeating: "a", count: UnixUserName.maxLength + 1)] {
            XCTAssertFalse(UnixUserName.isValid(name), name)
        }
    }

    /// Runs the conversation on messages of these styles; the replies as Swift strings (nil: no text), freed here.
    func converse(_ styles: [Int32], user: String = "bob", password: String = "pw 1") -> (Int32, [String?]) {
        guard let credentials = PAMConversationCredentials(user: user, password: password) else { return (-1, []) }
        defer { credentials.wipe() }
        let texts = styles.map { _ in strdup("prompt")! }
        defer { texts.forEach { free($0) } }
        let messages = UnsafeMutablePointer<pam_message>.allocate(capacity: max(1, styles.count))
        defer { messages.deallocate() }
        for (i, style) in styles.enumerated() { messages[i] = pam_message(msg_style: style, msg: texts[i]) }
        var pointers: [UnsafePointer<pam_message>?] = styles.indices.map { UnsafePointer(messages + $0) }
        var replies: UnsafeMutablePointer<pam_response>?
        let code = pointers.withUnsafeMutableBufferPointer {
            PAMConversation.function(Int32(styles.count), $0.baseAddress, &replies, Unmanaged.passUnretained(credentials).toOpaque())
        }
        guard code == PAM_SUCCESS, let replies else { return (code, []) }
        defer { free(replies) }
        return (code, styles.indices.map { i in
            guard let text = replies[i].resp else { return nil }
            defer { free(text) }
            return String(cString: text)
        })
    }

    func testPromptsAreAnsweredWithThePasswordOrTheUser() {
        let (code, replies) = converse([PAM_TEXT_INFO, PAM_PROMPT_ECHO_ON, PAM_PROMPT_ECHO_OFF, PAM_ERROR_MSG])
        XCTAssertEqual(code, PAM_SUCCESS)
        XCTAssertEqual(replies, [nil, "bob", "pw 1", nil])
    }

    func testAnythingElseEndsTheConversation() {
        XCTAssertEqual(converse([PAM_PROMPT_ECHO_OFF, PAM_BINARY_PROMPT]).0, PAM_CONV_ERR, "a binary prompt")
        XCTAssertEqual(converse([]).0, PAM_CONV_ERR, "no message")
        XCTAssertEqual(converse(Array(repeating: PAM_TEXT_INFO, count: Int(PAM_MAX_NUM_MSG) + 1)).0, PAM_CONV_ERR, "too many")
    }

    func testAPasswordWithANULCannotBeCarried() {
        XCTAssertNil(PAMConversationCredentials(user: "bob", password: "a\0b"))
    }
}
