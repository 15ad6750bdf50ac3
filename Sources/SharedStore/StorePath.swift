/// A path inside a volume, relative to its root. Each component is checked again here (non-empty, not `.` or
/// `..`, no `/` or NUL), so no path built above the volume can leave the mail root.
public struct StorePath: Hashable, Sendable, CustomStringConvertible {
    public let components: [String]

    public init(_ components: [String]) throws {
        for c in components { try Self.validate(c) }
        self.components = components
    }

    private init(unchecked components: [String]) {
        self.components = components
    }

    public static let root = StorePath(unchecked: [])

    public func appending(_ name: String) throws -> StorePath {
        try Self.validate(name)
        return StorePath(unchecked: components + [name])
    }

    public var parent: StorePath? {
        components.isEmpty ? nil : StorePath(unchecked: Array(components.dropLast()))
    }

    public var name: String? { components.last }

    public var description: String { components.isEmpty ? "/" : components.joined(separator: "/") }

    static func validate(_ component: String) throws {
        guard !component.isEmpty, component != ".", component != "..",
            !component.utf8.contains(0x2F), !component.utf8.contains(0)
        else {
            throw StoreError(code: .invalidName, message: "invalid path component \"\(component.prefix(64))\"")
        }
    }
}

public enum FileKind: Sendable { case file, directory, other }

public struct FileAttributes: Sendable, Equatable {
    public var kind: FileKind
    public var size: Int64
    public var modifiedNanoseconds: Int64
    public var fileID: UInt64
    // Made only by the volumes (this module): the memberwise init is enough.
}

public struct DirectoryEntry: Sendable, Equatable {
    public var name: String
    public var attributes: FileAttributes
    public init(name: String, attributes: FileAttributes) {
        self.name = name
        self.attributes = attributes
    }
}
