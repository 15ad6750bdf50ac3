import Admin
import Foundation
import SharedStore

/// A fresh mail root in a temporary directory with one administrator (`root`, `ADMIN_PASSWORD`).
final class ConsoleFixture: Sendable {
    static let adminPassword = "correct horse battery staple"
    let path: String
    let store: MailStore
    let admin: AdminOperations

    init() throws {
        path = NSTemporaryDirectory() + "poplar-console-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        store = try MailStore.initialize(volume: try POSIXVolume(rootPath: path), guid: ClusterGUID.generate(), kdfRounds: 1000)
        admin = AdminOperations(store: store)
        try admin.addAdmin("root", password: Self.adminPassword, by: .commandLine(host: "test"))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
