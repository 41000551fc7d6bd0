/// Why the database cannot be used, in words an operator can act on.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String

    static func newerSchema(found: Int, known: Int) -> StoreError {
        StoreError(
            description:
                "the database has schema version \(found), newer than this closeorderd knows (\(known)); upgrade closeorderd")
    }

    static func notMigrated(found: Int, known: Int) -> StoreError {
        StoreError(description: "the database has schema version \(found), but \(known) is needed; run `closeorderd migrate`")
    }

    static func cannotOpen(_ path: String, _ reason: String) -> StoreError {
        StoreError(description: "cannot open the database at \(path): \(reason)")
    }
}
