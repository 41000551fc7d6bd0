import Configuration
import Foundation
import Logging
import OrderClosing
import PostgresOrderStore
import ServiceSupport
import SystemPackage
import WeChatPayHTTP
import WeChatPayV2

/// Reads the JSON config file with environment overrides (`CLOSEORDERD_DATABASE_PATH` overrides
/// `database.path`) through swift-configuration, and validates every key, naming each bad one;
/// unknown keys and unknown `CLOSEORDERD_*` variables are refused, with a "did you mean".
///
/// swift-configuration reads values but cannot list a file's keys, so the file is also walked once
/// here to find the merchants (the keys under `merchants`) and to reject unknown keys (typos).
struct ConfigLoader {
    static let defaultPath = "/etc/closeorderd/config.json"

    let path: String?
    let environment: [String: String]

    /// - Parameter path: nil uses `$CLOSEORDERD_CONFIG`, then `/etc/closeorderd/config.json` if it exists,
    ///   else defaults and environment alone.
    init(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.path =
            path ?? environment["CLOSEORDERD_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: Self.defaultPath) ? Self.defaultPath : nil)
        self.environment = environment
    }

    struct Loaded {
        var config: DaemonConfig
        var problems: [String]
        var warnings: [String]
    }

    func load() async -> Loaded {
        var problems: [String] = []
        var warnings: [String] = []
        var fileKeys: [String] = []
        var providers: [any ConfigProvider] = [
            KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: environment)) {
                $0.prepending(["closeorderd"])
            }
        ]
        if let path {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    return Loaded(
                        config: DaemonConfig(), problems: ["\(path): the top level must be a JSON object"], warnings: [])
                }
                fileKeys = Self.flatten(object)
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
                warnings += FilePermissions.warnings(for: path, what: "config file")
            } catch {
                return Loaded(
                    config: DaemonConfig(), problems: ["\(path): cannot read the config file: \(Self.describe(error))"],
                    warnings: [])
            }
        }
        var reader = SettingsReader(reader: ConfigReader(providers: providers), providers: providers)
        let merchantIDs = Set(
            fileKeys.compactMap { key -> String? in
                let parts = key.split(separator: ".")
                return parts.count >= 2 && parts[0] == "merchants" ? String(parts[1]) : nil
            }
        ).sorted()
        problems += fileKeys.filter { !Self.isKnown($0) }.map {
            "\($0): unknown key" + Suggestion.phrase(for: $0, among: Self.knownKeys(near: $0))
        }
        problems += Self.environmentProblems(environment, merchantIDs: merchantIDs)
        var config = ConfigSchema.read(&reader, merchantIDs: merchantIDs)
        problems += reader.problems
        config.postgres?.credentials = CredentialFiles(configPath: path, environment: environment)
        warnings += config.postgres?.url.warnings.map { "database.url: \($0)" } ?? []
        // Whoever can write the CA file can stand in for WeChat Pay.
        if let caFile = config.gateway.caFile, let refusal = FilePermissions.refusal(for: caFile, what: "CA file") {
            problems.append("wechatpay.ca_file: \(refusal)")
        }
        // The lease must outlast a claimed order's worst case (TimeBudget's table).
        for finding in config.timeBudget.findings {
            switch finding {
            case .error(let message): problems.append(message)
            case .warning(let message): warnings.append(message)
            }
        }
        return Loaded(config: config, problems: problems, warnings: warnings)
    }

    /// Dotted paths of every leaf in the file (arrays count as leaves).
    static func flatten(_ object: [String: Any], prefix: String = "") -> [String] {
        object.flatMap { key, value -> [String] in
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let nested = value as? [String: Any] { return flatten(nested, prefix: path) }
            return [path]
        }.sorted()
    }

    static func isKnown(_ key: String) -> Bool {
        if ConfigSchema.scalarKeys.contains(key) { return true }
        let parts = key.split(separator: ".")
        return parts.count == 3 && parts[0] == "merchants" && ConfigSchema.merchantKeys.contains(String(parts[2]))
    }

    /// The keys a mistyped `key` may have meant: the scalar keys, and a merchant's keys under its mch_id.
    static func knownKeys(near key: String) -> [String] {
        let parts = key.split(separator: ".")
        var known = Array(ConfigSchema.scalarKeys)
        if parts.count >= 2, parts[0] == "merchants" {
            known += ConfigSchema.merchantKeys.map { "merchants.\(parts[1]).\($0)" }
        }
        return known
    }

    /// `CLOSEORDERD_*` variables read other than as config keys, and the project's scripts' own
    /// (they reach the daemon from a developer's shell; it never reads them).
    static let otherVariables: Set<String> = [
        "CLOSEORDERD_CONFIG", "CLOSEORDERD_BINARY", "CLOSEORDERD_DEB",
        "CLOSEORDERD_RELIABILITY", "CLOSEORDERD_KEEP_TEST_DIRS", "CLOSEORDERD_PG_BIN",
        "CLOSEORDERD_SHARED_QUEUE_ORDERS",
    ]

    /// `database.path` → `CLOSEORDERD_DATABASE_PATH`.
    static func variableName(_ key: String) -> String {
        "CLOSEORDERD_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// A `CLOSEORDERD_*` variable that no key reads is refused by name: a typo would otherwise
    /// leave the setting it meant silently at its default.
    static func environmentProblems(_ environment: [String: String], merchantIDs: [String]) -> [String] {
        var known = otherVariables.union(ConfigSchema.scalarKeys.map(variableName))
        for mchID in merchantIDs {
            known.formUnion(ConfigSchema.merchantKeys.map { variableName("merchants.\(mchID).\($0)") })
        }
        return environment.keys.filter { $0.hasPrefix("CLOSEORDERD_") && !known.contains($0) }.sorted().map { name in
            if let nearest = Suggestion.nearest(to: name, among: known) {
                return "\(name): unknown environment variable (did you mean \(nearest)?)"
            }
            if name.hasPrefix("CLOSEORDERD_MERCHANTS_") {
                return
                    "\(name): unknown environment variable (a merchant's keys can be overridden only for a merchant in the config file)"
            }
            return "\(name): unknown environment variable"
        }
    }

    static func describe(_ error: any Error) -> String {
        (error as? any LocalizedError)?.errorDescription ?? "\(error)"
    }
}

/// A `ConfigReader` that collects a message naming the key for every value that is present but wrong.
struct SettingsReader {
    let reader: ConfigReader
    /// The reader's providers, asked whether a key is set at all (`isPresent`).
    let providers: [any ConfigProvider]
    var problems: [String] = []

    mutating func int(_ key: String, _ fallback: Int, in range: ClosedRange<Int>) -> Int {
        guard let value = attempt(key, { [reader] in try reader.requiredInt(forKey: ConfigKey(key)) }) else { return fallback }
        guard range.contains(value) else {
            problems.append("\(key): \(value) is out of range \(range.lowerBound)…\(range.upperBound)")
            return fallback
        }
        return value
    }

    mutating func double(_ key: String, _ fallback: Double, in range: ClosedRange<Double>) -> Double {
        guard let value = attempt(key, { [reader] in try reader.requiredDouble(forKey: ConfigKey(key)) }) else { return fallback }
        guard range.contains(value) else {
            problems.append("\(key): \(value) is out of range \(range.lowerBound)…\(range.upperBound)")
            return fallback
        }
        return value
    }

    mutating func bool(_ key: String, _ fallback: Bool) -> Bool {
        attempt(key, { [reader] in try reader.requiredBool(forKey: ConfigKey(key)) }) ?? fallback
    }

    mutating func string(_ key: String) -> String? {
        attempt(key, { [reader] in try reader.requiredString(forKey: ConfigKey(key)) })
    }

    mutating func strings(_ key: String) -> [String]? {
        attempt(key, { [reader] in try reader.requiredStringArray(forKey: ConfigKey(key)) })
    }

    mutating func choice<T>(_ key: String, _ fallback: T, _ parse: (String) -> T?, expected: String) -> T {
        guard let text = string(key) else { return fallback }
        guard let value = parse(text) else {
            problems.append("\(key): \"\(text)\" is not one of \(expected)")
            return fallback
        }
        return value
    }

    /// nil when the key is absent; records a problem when it is present but of the wrong type.
    private mutating func attempt<T>(_ key: String, _ read: () throws -> T) -> T? {
        guard isPresent(key) else { return nil }
        do {
            return try read()
        } catch {
            problems.append("\(key): has the wrong type or format (\(error))")
            return nil
        }
    }

    /// Whether a provider holds `key`. A value of another type counts (the provider throws
    /// reading it as text); only a key no provider has is absent. Asked of the providers, not
    /// read from the library's error text.
    func isPresent(_ key: String) -> Bool {
        let absolute = AbsoluteConfigKey(ConfigKey(key))
        return providers.contains { provider in
            do {
                return try provider.value(forKey: absolute, type: .string).value != nil
            } catch {
                return true
            }
        }
    }
}
