import ArgumentParser
import Foundation
import SharedStore

/// `poplar lock-race` (hidden): one racer of `Tests/clients/nfs_lock_race.py`. Reads `take` and `release` lines
/// on standard input and answers `1` (took the mailbox), `0` (refused) or `E <error>`, and `ok`. With `--bypass` it
/// races with the plain `rename(lock, kcol)` the protocol replaces, to show why (docs/lock-protocol.md, T1).
struct LockRaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock-race",
        abstract: "Race for one mailbox's lock, driven line by line on standard input (a test tool).",
        shouldDisplay: false
    )
    @OptionGroup var common: CommonOptions
    @Argument(help: "The mailbox, user@domain.") var address: String
    @Option(name: .customLong("node-id")) var nodeID = "racer"
    @Flag(help: "Race with a plain rename(lock, kcol) instead of the protocol.") var bypass = false

    func run() async throws {
        let (store, _) = try await common.openStore()
        let mailbox = try storeCall("invalid address") { try MailboxAddress(parsing: address) }
        let dir = try StorePath([mailbox.domain, "P3_\(mailbox.mailbox).mbx"])
        let lock = try dir.appending("lock"), held = try dir.appending("kcol")
        // Every answer reaches the driving script at once (it waits for it before the next command).
        func reply(_ text: String) {
            print(text)
            fflush(nil)
        }
        var session: MailboxSession?
        var round = 0
        while let line = readLine() {
            switch line {
            case "take":
                round += 1
                if bypass {
                    do { try store.volume.rename(lock, to: held); reply("1") } catch { reply("0") }
                    continue
                }
                do {
                    session = try store.openSession(mailbox, node: nodeID, session: "\(nodeID)-\(round)")
                    reply("1")
                } catch is LockRefusal {
                    reply("0")
                } catch {
                    reply("E \(error)")
                }
            case "release":
                if bypass {
                    try? store.volume.rename(held, to: lock)
                } else {
                    do { try session?.release() } catch { reply("E \(error)"); continue }
                    session = nil
                }
                reply("ok")
            default:
                reply("E unknown command")
            }
        }
    }
}
