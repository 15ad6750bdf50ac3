/// LOGIN-DELAY and EXPIRE (RFC 2449 §6.5, §6.7): CAPA announces the configured values, the cluster's before login
/// and the user's domain's after it; under EXPIRE 0 a retrieved message is deleted at QUIT.
extension POP3SessionStateMachine {
    /// `POP3Capabilities.always` with this session's LOGIN-DELAY and EXPIRE arguments.
    func withPolicies(_ capabilities: [String]) -> [String] {
        capabilities.map { capability in
            if capability.hasPrefix("EXPIRE ") { return "EXPIRE " + configuration.expireCapability }
            if capability.hasPrefix("LOGIN-DELAY ") { return "LOGIN-DELAY " + configuration.loginDelayCapability }
            return capability
        }
    }

    /// Before `authenticationCompleted(.success)`: the logged-in user's domain's values. RFC 2449 §6.5 and §6.7: in
    /// TRANSACTION the argument is the user's own, never "USER".
    public mutating func applyDomainPolicy(loginDelaySeconds: Int, expireDays: Int?) {
        configuration.loginDelayCapability = String(loginDelaySeconds)
        configuration.expireCapability = expireDays.map(String.init) ?? "NEVER"
        configuration.deleteRetrievedOnQuit = expireDays == 0
    }
}
