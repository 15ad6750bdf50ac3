import Foundation
import XCTest

/// A real OpenLDAP server for the LDAP backend's tests: `slapd` on 127.0.0.1 (ldap:// and ldaps:// on free ports)
/// with the mdb backend and the memberof overlay, a temporary directory, a CA and a server certificate made with
/// openssl, seeded through ldapadd. Its log (`-d stats`) records every BIND and SRCH the tests make.
final class SlapdFixture {
    static let suffix = "dc=poplar,dc=test"
    static let rootDN = "cn=admin,\(suffix)"
    static let rootPassword = "rootsecret"
    static let serviceDN = "cn=service,\(suffix)"
    static let servicePassword = "servicepw"
    static let peopleDN = "ou=people,\(suffix)"
    static let groupDN = "cn=POP3 Users,ou=groups,\(suffix)"
    /// How long slapd may take to listen after it is started.
    static let startLimit: TimeInterval = 15
    static let binaries = ["/usr/sbin/slapd", "/usr/bin/ldapadd", "/usr/bin/openssl"]

    let directory: String
    let port: Int
    let tlsPort: Int
    private var process: Process?

    var uri: String { "ldap://127.0.0.1:\(port)" }
    var tlsURI: String { "ldaps://127.0.0.1:\(tlsPort)" }
    var caFile: String { directory + "/ca.pem" }
    /// A CA that did not sign the server's certificate.
    var otherCAFile: String { directory + "/other-ca.pem" }
    var logFile: String { directory + "/slapd.log" }

    /// Skips the test (with the reason) when slapd or the LDAP tools are not installed (Tests/run-tests installs them).
    static func requireInstalled() throws {
        for path in binaries where !FileManager.default.isExecutableFile(atPath: path) {
            throw XCTSkip("\(path) is not installed (Tests/run-tests installs slapd, ldap-utils and openssl)")
        }
    }

    init() throws {
        try Self.requireInstalled()
        directory = NSTemporaryDirectory() + "poplar-slapd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/db", withIntermediateDirectories: true)
        port = try Self.freePort()
        tlsPort = try Self.freePort()
        try makeCertificates()
        try writeConfiguration()
        try start()
        try seed()
    }

    // MARK: running

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/slapd")
        // -d stats: in the foreground, every operation logged to stderr.
        p.arguments = ["-f", directory + "/slapd.conf", "-h", "\(uri)/ \(tlsURI)/", "-d", "stats"]
        if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        logHandle.seekToEndOfFile()
        p.standardError = logHandle
        p.standardOutput = logHandle
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(Self.startLimit)
        while Date() < deadline {
            if !p.isRunning { throw SlapdError("slapd exited with \(p.terminationStatus): \(log(tail: 20))") }
            if Self.accepts(port) && Self.accepts(tlsPort) { return }
            usleep(50_000)
        }
        throw SlapdError("slapd did not listen on \(port) within \(Self.startLimit) s: \(log(tail: 20))")
    }

    /// SIGKILL, as a crash or a pulled cable would (the mdb database survives it). Not SIGTERM: slapd started
    /// from a test's async setUp inherits the dispatch worker thread's blocked signals, SIGTERM among them.
    func stop() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// SIGSTOP: connections are accepted by the kernel, nothing is answered (a hung directory).
    /// SIGSTOP, then waits (up to 2 s) until the kernel reports every thread stopped: `kill` returns before a thread
    /// running on the other core stops, and a request sent in that gap was answered (a flaky "accepted" under load).
    func pause() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGSTOP)
        let tasks = "/proc/\(p.processIdentifier)/task"
        for _ in 0..<200 {
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
            let stopped = threads.allSatisfy { tid in
                guard let stat = try? String(contentsOfFile: "\(tasks)/\(tid)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return true }  // gone
                return stat[stat.index(close, offsetBy: 2)] == "T"
            }
            if stopped { return }
            usleep(10_000)
        }
    }
    func resume() { if let p = process { kill(p.processIdentifier, SIGCONT) } }

    func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func log(tail lines: Int = Int.max) -> String {
        let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Log lines holding `text` (e.g. `BIND dn="uid=alice`).
    func logCount(_ text: String) -> Int { logLines(text).count }

    /// Log lines holding `text`, once slapd has written what it had to (its log trails its answers a little).
    func logLines(_ text: String) -> [Substring] {
        settleLog()
        return log().split(separator: "\n").filter { $0.contains(text) }
    }

    /// Simple binds of `dn` logged (slapd logs a bind twice: `method=128`, then `mech=SIMPLE` with its ssf).
    func bindLines(_ dn: String) -> [Substring] {
        logLines("BIND dn=\"\(dn)").filter { $0.contains("mech=SIMPLE") }
    }

    /// How long the log must stay unchanged to count as settled, and the longest wait for it.
    static let logQuiet: TimeInterval = 0.2
    static let logSettleLimit: TimeInterval = 3

    private func settleLog() {
        func size() -> Int { ((try? FileManager.default.attributesOfItem(atPath: logFile))?[.size] as? Int) ?? 0 }
        let deadline = Date().addingTimeInterval(Self.logSettleLimit)
        var last = size()
        while Date() < deadline {
            Thread.sleep(forTimeInterval: Self.logQuiet)
            let now = size()
            if now == last { return }
            last = now
        }
    }

    /// Adds entries as the root DN.
    func add(_ ldif: String) throws {
        try Self.run("/usr/bin/ldapadd", ["-x", "-H", uri, "-D", Self.rootDN, "-w", Self.rootPassword], input: ldif)
    }

    // MARK: setting up

    private func makeCertificates() throws {
        let d = directory
        func openssl(_ args: [String]) throws { try Self.run("/usr/bin/openssl", args) }
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=Poplar Test CA"])
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/other-ca.key", "-out", d + "/other-ca.pem", "-days", "2", "-subj", "/CN=Poplar Test CA"])
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: d + "/ext.cnf", atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
                     "-out", d + "/server.pem", "-days", "2", "-extfile", d + "/ext.cnf"])
    }

    private func writeConfiguration() throws {
        let d = directory
        // Active Directory's account names, with their AD OIDs, for the ad preset's filter.
        let adSchema = """
            attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
            attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
            objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'poplarADAccount' AUXILIARY MAY ( sAMAccountName $ userPrincipalName ) )

            """
        try adSchema.write(toFile: d + "/ad.schema", atomically: true, encoding: .utf8)
        let conf = """
            include /etc/ldap/schema/core.schema
            include /etc/ldap/schema/cosine.schema
            include /etc/ldap/schema/inetorgperson.schema
            include \(d)/ad.schema
            modulepath /usr/lib/ldap
            moduleload back_mdb
            moduleload memberof
            pidfile \(d)/slapd.pid
            TLSCACertificateFile \(d)/ca.pem
            TLSCertificateFile \(d)/server.pem
            TLSCertificateKeyFile \(d)/server.key
            database mdb
            suffix "\(Self.suffix)"
            rootdn "\(Self.rootDN)"
            rootpw \(Self.rootPassword)
            directory \(d)/db
            maxsize 10485760
            overlay memberof
            access to attrs=userPassword by anonymous auth by * none
            access to * by * read

            """
        try conf.write(toFile: d + "/slapd.conf", atomically: true, encoding: .utf8)
    }

    /// The service account; alice and "Smith, Dave" (a DN with an escaped comma) in the group; bob outside it;
    /// two entries sharing one mail (several: never a login); nopw without a password.
    private func seed() throws {
        func person(_ rdn: String, uid: String, cn: String? = nil, mail: String, password: String?) -> String {
            """
            dn: \(rdn),\(Self.peopleDN)
            objectClass: inetOrgPerson
            objectClass: poplarADAccount
            uid: \(uid)
            cn: \(cn ?? uid)
            sn: \(uid)
            mail: \(mail)
            sAMAccountName: \(uid)
            userPrincipalName: \(mail)
            \(password.map { "userPassword: \($0)\n" } ?? "")
            """
        }
        let ldif = """
            dn: \(Self.suffix)
            objectClass: dcObject
            objectClass: organization
            o: Poplar
            dc: poplar

            dn: \(Self.peopleDN)
            objectClass: organizationalUnit
            ou: people

            dn: ou=groups,\(Self.suffix)
            objectClass: organizationalUnit
            ou: groups

            dn: \(Self.serviceDN)
            objectClass: person
            cn: service
            sn: service
            userPassword: \(Self.servicePassword)

            \(person("uid=alice", uid: "alice", mail: "alice@poplar.test", password: "alicepw"))
            \(person("uid=bob", uid: "bob", mail: "bob@poplar.test", password: "bobpw"))
            \(person("cn=Smith\\, Dave", uid: "dave", cn: "Smith, Dave", mail: "dave@poplar.test", password: "davepw"))
            \(person("uid=carol", uid: "carol", mail: "dup@poplar.test", password: "carolpw"))
            \(person("uid=carol2", uid: "carol2", mail: "dup@poplar.test", password: "carolpw"))
            \(person("uid=nopw", uid: "nopw", mail: "nopw@poplar.test", password: nil))
            dn: \(Self.groupDN)
            objectClass: groupOfNames
            cn: POP3 Users
            member: uid=alice,\(Self.peopleDN)
            member: cn=Smith\\, Dave,\(Self.peopleDN)

            """
        try add(ldif)
    }

    // MARK: helpers

    struct SlapdError: Error, CustomStringConvertible {
        let description: String
        init(_ text: String) { description = text }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw SlapdError("\(executable) \(arguments.first ?? "") failed: \(text)") }
        return text
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SlapdError("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard ok else { throw SlapdError("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
