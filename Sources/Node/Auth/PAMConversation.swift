import CPAM
import Glibc

/// The conversation PAM modules talk through (pam_conv(3)): a password prompt (echo off) is answered with the
/// password, a visible prompt (echo on, a module asking for the login name) with the user name, error and info
/// texts with no reply. Anything else (a binary prompt, too many messages) ends the conversation with PAM_CONV_ERR.
/// The replies are malloc'ed (calloc, strdup) because PAM frees them; appdata_ptr is an unretained
/// `PAMConversationCredentials` the transaction keeps alive.
enum PAMConversation {
    static let function: @convention(c) (
        Int32, UnsafeMutablePointer<UnsafePointer<pam_message>?>?, UnsafeMutablePointer<UnsafeMutablePointer<pam_response>?>?,
        UnsafeMutableRawPointer?
    ) -> Int32 = { count, messages, responses, appdata in
        guard count > 0, count <= PAM_MAX_NUM_MSG, let messages, let responses, let appdata else { return PAM_CONV_ERR }
        let credentials = Unmanaged<PAMConversationCredentials>.fromOpaque(appdata).takeUnretainedValue()
        guard let raw = calloc(Int(count), MemoryLayout<pam_response>.stride) else { return PAM_BUF_ERR }
        let replies = raw.bindMemory(to: pam_response.self, capacity: Int(count))
        for i in 0..<Int(count) {
            guard let message = messages[i] else {
                PAMConversation.discard(replies, count: i)
                return PAM_CONV_ERR
            }
            let answer: UnsafeMutablePointer<CChar>?
            switch message.pointee.msg_style {
            case PAM_PROMPT_ECHO_OFF:
                answer = strdup(credentials.password.baseAddress!)
            case PAM_PROMPT_ECHO_ON:
                answer = strdup(credentials.user.baseAddress!)
            case PAM_ERROR_MSG, PAM_TEXT_INFO:
                continue
            default:
                PAMConversation.discard(replies, count: i)
                return PAM_CONV_ERR
            }
            guard let answer else {
                PAMConversation.discard(replies, count: i)
                return PAM_BUF_ERR
            }
            replies[i].resp = answer
        }
        responses.pointee = replies
        return PAM_SUCCESS
    }

    /// Wipes and frees the replies made so far, when the conversation fails half way (PAM frees them only on success).
    static func discard(_ replies: UnsafeMutablePointer<pam_response>, count: Int) {
        for i in 0..<count {
            if let text = replies[i].resp {
                poplar_pam_wipe(text, strlen(text))
                free(text)
            }
        }
        free(replies)
    }
}
