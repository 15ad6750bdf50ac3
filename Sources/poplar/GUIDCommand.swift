import ArgumentParser
import Foundation
import SharedStore

/// `poplar guid status|rotate`: the cluster GUID's rotation without downtime (docs/security.md, "Rotating the GUID").
struct GUIDCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guid",
        abstract: "Show the cluster GUID's state, or rotate it without downtime.",
        subcommands: [Status.self, Rotate.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Which GUID keys new records, and how many records each one keys.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let (store, _) = try await common.openStore()
            let usage = try storeCall("cannot read the password records") { try store.guidUsage() }
            if output.json {
                JSONOutput.print(["current": store.guid.tag, "previous": JSONOutput.optional(store.previousGUID?.tag),
                                  "file": store.keyring.guids.map(\.tag),
                                  "records": ["current": usage.onCurrent, "rekeyable": usage.rekeyable.count, "need-login": usage.needLogin.count]])
                return
            }
            print("current guid \(store.guid.tag)" + (store.previousGUID.map { ", previous \($0.tag) (rotation under way)" } ?? ""))
            print("GUID file: \(store.keyring.guids.map(\.tag).joined(separator: ", "))")
            print("records: \(usage.onCurrent) on the current guid, \(usage.rekeyable.count) re-keyable now (mailbox rekey --all), \(usage.needLogin.count) re-keyed at their next password login")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rotate the cluster GUID: add a new one to the GUID file, then --activate it, then --finish.",
            discussion: """
                1. `poplar guid rotate` adds a new GUID to this host's GUID file; copy the file to every node and \
                coordinator and restart them in turn (poplar node drain). \
                2. `poplar guid rotate --activate` once every live node lists it (poplar cluster status): new records are \
                keyed by it, old ones still open and are re-keyed at their next password login. \
                3. `poplar mailbox rekey --all` re-keys mailboxes that keep the APOP secret. \
                4. `poplar guid rotate --finish`: the old GUID is no longer accepted; copy the GUID file again.
                """
        )
        @OptionGroup var common: CommonOptions
        @Flag(help: "Make the new GUID of the GUID file the one that keys new records.") var activate = false
        @Flag(help: "Stop accepting the previous GUID and remove it from the GUID file.") var finish = false
        @Flag(help: "With --finish: even if records keyed by the previous GUID remain (their mailboxes then need a new password).") var force = false

        func run() async throws {
            guard !(activate && finish) else { throw UserError("--activate and --finish are two steps: one at a time") }
            let reader = try await common.reader()
            let path = common.resolvedGUIDFile(reader)
            let (store, _) = try await common.openStore()
            if activate { return try activateNew(store) }
            if finish { return try finishRotation(store, path: path) }
            guard store.previousGUID == nil else { throw UserError("a rotation is under way: `poplar guid rotate --finish` first") }
            guard store.keyring.guids.count == 1 else {
                throw UserError("the GUID file already holds a new GUID (\(store.keyring.guids.filter { $0 != store.guid }.map(\.tag).joined(separator: ", "))): copy it to every host, then `poplar guid rotate --activate`")
            }
            let new = ClusterGUID.generate()
            try storeCall("cannot write \(path)") { try ClusterKeyring([store.guid, new]).write(toFile: path) }
            print("added GUID \(new.tag) to \(path) (the current one, \(store.guid.tag), stays until --activate)")
            print("next: copy \(path) to every node and coordinator, restart them in turn, then run `poplar guid rotate --activate`")
        }

        private func activateNew(_ store: MailStore) throws {
            guard store.previousGUID == nil else { throw UserError("a rotation is already active: `poplar guid rotate --finish` ends it") }
            let candidates = store.keyring.guids.filter { $0 != store.guid }
            guard candidates.count == 1, let new = candidates.first else {
                throw UserError("the GUID file must hold the current GUID and exactly one new one (`poplar guid rotate` adds it)")
            }
            let lacking = try storeCall("cannot read the node registry") { try store.nodes() }
                .filter { !$0.isSilent() && !$0.keyTags.contains(new.tag) }.map(\.node)
            guard lacking.isEmpty else {
                throw UserError("these live nodes do not have the new GUID yet: \(lacking.joined(separator: ", ")); copy the GUID file and restart them first")
            }
            try storeCall("cannot activate the new GUID") { try store.activateGUID(new) }
            print("GUID \(new.tag) now keys new records; \(store.previousGUID?.tag ?? "?") is accepted until `poplar guid rotate --finish` (nodes follow within 30 s)")
        }

        private func finishRotation(_ store: MailStore, path: String) throws {
            guard store.previousGUID != nil else { throw UserError("no rotation is under way") }
            let usage = try storeCall("cannot read the password records") { try store.guidUsage() }
            let remaining = usage.rekeyable.count + usage.needLogin.count
            if remaining > 0 && !force {
                throw UserError("\(remaining) records are still keyed by the previous GUID (\(usage.rekeyable.count) re-keyable now with `poplar mailbox rekey --all`, \(usage.needLogin.count) need a password login or a new password); --force finishes anyway")
            }
            try storeCall("cannot finish the rotation") { try store.finishGUIDRotation() }
            try storeCall("cannot write \(path)") { try ClusterKeyring([store.guid]).write(toFile: path) }
            print("the previous GUID is retired; \(path) holds \(store.guid.tag) only: copy it to every host")
            if remaining > 0 { print("warning: \(remaining) mailboxes can no longer log in until they get a new password") }
        }
    }
}

extension MailboxCommand {
    /// `poplar mailbox rekey USER@DOMAIN | --all`: records keyed by a previous GUID that keep the sealed APOP secret are
    /// re-keyed now; the others wait for their next password login.
    struct Rekey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-key password records to the current GUID where the sealed secret allows.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The mailbox, as USER@DOMAIN (or --all).") var address: String?
        @Flag(help: "Every mailbox.") var all = false

        func run() async throws {
            guard (address == nil) == all else { throw UserError("name one mailbox or --all") }
            let (store, _) = try await common.openStore()
            let targets: [MailboxAddress]
            if let address {
                targets = [try storeCall("invalid mailbox address \(address)") { try MailboxAddress(parsing: address) }]
            } else {
                targets = try storeCall("cannot read the password records") { try store.guidUsage() }.rekeyable
            }
            var done = 0
            for target in targets where try storeCall("cannot re-key \(target)", { try store.rekey(target) }) { done += 1 }
            let left = try storeCall("cannot read the password records") { try store.guidUsage() }
            print("re-keyed \(done) records; \(left.needLogin.count) wait for their next password login")
        }
    }
}
