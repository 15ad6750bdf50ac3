import Foundation
import Node
import SharedStore

/// The store's checks of `poplar doctor`: the mail root answers, the GUID file matches it, the NAS's clock, the
/// node registry, free space. A check that needs what an earlier one could not open says so ("not checked").
extension DoctorChecks {
    static let spaceWarnPercent = 10.0
    static let spaceFailPercent = 2.0
    static let notChecked = "fix the failures above, then run `poplar doctor` again"

    static func ms(_ seconds: Double) -> Double { (seconds * 1e6).rounded() / 1000 }

    mutating func notChecked(_ names: [String], _ why: String) {
        for name in names { add(name, .warn, "not checked: \(why)", Self.notChecked) }
    }

    /// Opens the mail root and times a small call on it (the median of 5 stats of the root).
    mutating func mailRoot(_ root: String?) -> (any Volume)? {
        guard let root else {
            add("mail-root", .fail, "no mail root given", "pass --root ROOT, set POPLAR_ROOT, or the config key root")
            return nil
        }
        let volume: any Volume
        do {
            volume = try CommonOptions.openVolume(root)
        } catch {
            add("mail-root", .fail, "\(error)",
                root.hasPrefix("nfs://") ? "check that the NAS answers and exports it to this host (docs/nfs.md)" : "check that \(root) is mounted and readable here")
            return nil
        }
        var times: [Double] = []
        for _ in 0..<5 {
            let start = BootTimeClock().now()
            do {
                _ = try volume.stat(.root)
            } catch {
                add("mail-root", .fail, "\(root) opened but a stat of it failed: \(error)", "check the NAS or the mount, then run `poplar doctor` again")
                return nil
            }
            times.append(Double(BootTimeClock().now() &- start) / 1e9)
        }
        let median = times.sorted()[times.count / 2]
        add("mail-root", .ok, "\(root) answers: a stat takes \(String(format: "%.3f", Self.ms(median))) ms (median of 5)", nil,
            ["rtt-ms": Self.ms(median)])
        return volume
    }

    /// The store's check of the GUID, as a node does at start: the file's GUIDs against the root's check value.
    mutating func guidMatches(_ volume: any Volume, _ keyring: ClusterKeyring?, file: String, root: String) -> MailStore? {
        guard let keyring else {
            notChecked(["guid-match"], "the GUID file \(file) could not be read")
            return nil
        }
        do {
            let store = try MailStore.open(volume: volume, keyring: keyring)
            add("guid-match", .ok, "\(file) matches \(root) (GUID \(store.guid.tag))")
            return store
        } catch let error as StoreError where error.code == .wrongGUID {
            add("guid-match", .fail, "the GUID file \(file) does not match the mail root \(root): \(error.message)",
                "copy the GUID file of this cluster (the one `poplar init` wrote for \(root)) from a node that serves it to \(file)")
        } catch let error as StoreError where error.code == .notInitialized {
            add("guid-match", .fail, "\(root) is not a Poplar mail root (no .poplar/cluster)",
                "fix --root (POPLAR_ROOT), or run `poplar init` once for a new cluster")
        } catch {
            add("guid-match", .fail, "cannot open the mail root \(root): \(error)", "check the store (`poplar cluster status`), the NAS, the mount")
        }
        return nil
    }

    /// The NAS's clock against this host's, through a probe file in `.poplar/tmp/` (removed after).
    mutating func clockSkew(_ store: MailStore) {
        let probe: ClockProbe
        do {
            probe = try store.probeClock()
        } catch {
            add("clock-skew", .fail, "cannot write a probe file in .poplar/tmp: \(error)",
                "check that this host may write in the mail root (as the nodes must), then run `poplar doctor` again")
            return
        }
        let leaseShown = String(format: "%g s", Double(store.lease.milliseconds) / 1000)
        let shown = abs(probe.skewSeconds) < 1
            ? String(format: "%+.2f ms (± %.2f ms)", probe.skewSeconds * 1000, probe.uncertaintySeconds * 1000)
            : String(format: "%+.3f s (± %.3f s)", probe.skewSeconds, probe.uncertaintySeconds)
        let numbers = ["skew-ms": Self.ms(probe.skewSeconds), "skew-error-ms": Self.ms(probe.uncertaintySeconds),
                       "rtt-ms": Self.ms(probe.roundTripSeconds), "lease-ms": Double(store.lease.milliseconds)]
        let advice = "synchronise this host and the NAS with NTP against the same servers (chrony, systemd-timesyncd); every node and coordinator too"
        switch probe.verdict(lease: store.lease) {
        case .fail:
            add("clock-skew", .fail, "the NAS's clock is \(shown) from this host's: more than a quarter of the \(leaseShown) lease",
                advice + "; until then EXPIRE, LOGIN-DELAY, the auth penalty and `cluster status` misjudge times", numbers)
        case .warn:
            add("clock-skew", .warn, "the NAS's clock is \(shown) from this host's: over \(String(format: "%g", ClockProbe.warnSeconds)) s", advice, numbers)
        case .ok:
            add("clock-skew", .ok, "the NAS's clock is \(shown) from this host's (lease \(leaseShown))", nil, numbers)
        }
    }

    /// The registry as `poplar cluster status` reads it: silent nodes, other versions, draining nodes.
    mutating func registry(_ store: MailStore) {
        let nodes: [NodeRecord]
        do {
            nodes = try store.nodes()
        } catch {
            add("registry-silent", .fail, "cannot read the node registry: \(error)", "check the store, then `poplar cluster status`")
            notChecked(["registry-version", "registry-draining"], "the node registry could not be read")
            return
        }
        let silent = nodes.filter { $0.isSilent() }
        if silent.isEmpty {
            add("registry-silent", .ok, nodes.isEmpty ? "no node has published itself" : "\(nodes.count) node\(nodes.count == 1 ? "" : "s"), every one updating its record")
        } else {
            let list = silent.map { "\($0.node) (last update \(ClusterCommand.age($0.updated)))" }.joined(separator: ", ")
            add("registry-silent", .warn, "no update for over 3 of its intervals: \(list)",
                "a node that died: restart it, or remove its record with `poplar cluster forget NODE`; a live one: check its clock and its store access")
        }
        let others = nodes.filter { $0.version != PoplarVersion.string }
        if others.isEmpty {
            add("registry-version", .ok, nodes.isEmpty ? "no node to compare" : "every node runs \(PoplarVersion.string), as this poplar")
        } else {
            let list = others.map { "\($0.node) runs \($0.version)" }.joined(separator: ", ")
            add("registry-version", .warn, "\(list); this poplar is \(PoplarVersion.string)",
                "finish the upgrade node by node (docs/operations.md, Upgrades); or run the doctor of the version the cluster runs")
        }
        let draining = nodes.filter(\.draining)
        if draining.isEmpty {
            add("registry-draining", .ok, "no node drains")
        } else {
            let list = draining.map { "\($0.node) (\($0.sessions.count) session\($0.sessions.count == 1 ? "" : "s") left)" }.joined(separator: ", ")
            add("registry-draining", .warn, "draining: \(list)",
                "it exits once its sessions end; start it again to serve (`poplar cluster kick USER@DOMAIN` ends a session that lingers)")
        }
    }

    /// Free space and free inodes of the mail root's file system: warn under 10 %, fail under 2 %.
    mutating func freeSpace(_ volume: any Volume) {
        let space: VolumeSpace?
        do {
            space = try volume.spaceIfKnown()
        } catch {
            add("free-space", .fail, "cannot read the file system's free space: \(error)", "check the NAS or the mount")
            add("free-inodes", .warn, "not checked: the free space could not be read", Self.notChecked)
            return
        }
        guard let space else {
            add("free-space", .ok, "unknown: this volume does not report it")
            add("free-inodes", .ok, "unknown: this volume does not report it")
            return
        }
        let gb = { (bytes: UInt64) in String(format: "%.1f GB", Double(bytes) / 1e9) }
        judge("free-space", space.freePercent, "\(gb(space.availableBytes)) of \(gb(space.totalBytes)) free",
              advice: "free space on the mail root's file system or grow it: deliveries are refused (452) and sessions end when it is full")
        if let files = space.freeFilesPercent, let available = space.availableFiles, let total = space.totalFiles {
            judge("free-inodes", files, "\(available) of \(total) inodes free",
                  advice: "every message is a file: free inodes (purge old mailboxes) or grow the file system")
        } else {
            add("free-inodes", .ok, "unknown: the file system reports no inode count")
        }
    }

    private mutating func judge(_ name: String, _ percent: Double, _ what: String, advice: String) {
        let shown = "\(what) (\(String(format: "%.1f", percent)) %)"
        let numbers = [name == "free-space" ? "free-percent" : "free-inodes-percent": (percent * 10).rounded() / 10]
        if percent < Self.spaceFailPercent {
            add(name, .fail, shown + ", under \(Self.spaceFailPercent) %", advice, numbers)
        } else if percent < Self.spaceWarnPercent {
            add(name, .warn, shown + ", under \(Self.spaceWarnPercent) %", advice, numbers)
        } else {
            add(name, .ok, shown, nil, numbers)
        }
    }
}
