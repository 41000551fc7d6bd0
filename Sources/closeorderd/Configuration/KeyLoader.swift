import Foundation
import OrderClosing
import WeChatPayHTTP
import WeChatPayV2

/// Reads each merchant's API key from its file or systemd credential. Keys never come from the
/// config file, the environment or argv, and never appear in messages.
enum KeyLoader {
    struct Result {
        var profiles: [MerchantProfile]
        /// mch_id → why its key cannot be used, naming the config key and the file.
        var unavailable: [String: String]
        var warnings: [String]
        /// mch_id → the v3 keys of each v3 merchant with usable keys (`RoutingGateway`'s table).
        var v3Merchants: [String: V3Merchant] = [:]
    }

    static func load(_ merchants: [MerchantConfig], environment: [String: String] = ProcessInfo.processInfo.environment) -> Result {
        var result = Result(profiles: [], unavailable: [:], warnings: [])
        for merchant in merchants {
            if let v3 = merchant.v3 {
                switch V3KeyLoader.load(merchant, v3, environment: environment, warnings: &result.warnings) {
                case .success(let (profile, keys)):
                    result.profiles.append(profile)
                    result.v3Merchants[merchant.mchID] = keys
                case .failure(let failure):
                    result.unavailable[merchant.mchID] = failure.message
                }
                continue
            }
            let prefix = "merchants.\(merchant.mchID)"
            let path: String
            let configKey: String
            switch merchant.keySource {
            case .file(let file):
                path = file
                configKey = "\(prefix).key_file"
                result.warnings += FilePermissions.warnings(for: file, what: "key file")
            case .credential(let name):
                configKey = "\(prefix).key_credential"
                guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                    result.unavailable[merchant.mchID] = "\(configKey): $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)"
                    continue
                }
                path = directory + "/" + name
            }
            do {
                let text = try KeyFile.read(path)
                let key = try APIKey(fileContents: text)
                if let warning = KeyFile.lengthWarning(text, path: path) { result.warnings.append("\(configKey): \(warning)") }
                result.profiles.append(MerchantProfile(
                    credentials: MerchantCredentials(mchID: merchant.mchID, signType: merchant.signType, key: key),
                    appIDs: Set(merchant.appIDs), ratePerSecond: merchant.ratePerSecond, burst: merchant.burst))
            } catch let error as ProtocolError {
                result.unavailable[merchant.mchID] = "\(configKey): the key in \(path) is unusable: \(error.message)"
            } catch {
                result.unavailable[merchant.mchID] = "\(configKey): \(error)"
            }
        }
        return result
    }
}

/// Warns about files others can read: keys must be readable by the daemon alone.
enum FilePermissions {
    static func warnings(for path: String, what: String) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        if info.st_mode & 0o004 != 0 { return ["\(what) \(path) is readable by every user (mode \(String(info.st_mode & 0o777, radix: 8))); chmod o-r it"] }
        if what == "key file", info.st_mode & 0o040 != 0 {
            return ["\(what) \(path) is readable by its group (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"]
        }
        return []
    }
}
