/// One page of a domain's mailboxes, by name: those containing `search` (case-insensitive), after the cursor
/// `after` (the last name of the page before), at most `limit`. `next` is the cursor of the following page, nil
/// on the last. Pure: the listing comes from one read of the domain's folder (`AdminOperations.mailboxPage`).
public struct MailboxPage: Sendable, Equatable {
    public var domain: String
    public var names: [String]
    public var next: String?
    /// How many mailboxes match the search in the whole domain.
    public var matching: Int

    public static func slice(_ sortedNames: [String], domain: String, search: String, after: String?, limit: Int) -> MailboxPage {
        let size = min(max(limit, 1), AdminLimits.maxPageSize)
        let needle = search.lowercased()
        let matches = needle.isEmpty ? sortedNames : sortedNames.filter { $0.contains(needle) }
        // The names are sorted: the page starts at the first name past the cursor (a binary search).
        var start = 0
        if let after {
            var lo = 0, hi = matches.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if matches[mid] <= after { lo = mid + 1 } else { hi = mid }
            }
            start = lo
        }
        let page = Array(matches[start..<min(start + size, matches.count)])
        let more = start + size < matches.count
        return MailboxPage(domain: domain, names: page, next: more ? page.last : nil, matching: matches.count)
    }
}
