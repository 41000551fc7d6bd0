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
    }

    /// - Parameter credentials: where `*_credential` names are read from (the unit's source first).
    static func load(_ merchants: [MerchantConfig], credentials: CredentialFiles) -> Result {
        var result = Result(profiles: [], unavailable: [:], warnings: [])
        for merchant in merchants {
            if let v3 = merchant.v3 {
                switch V3KeyLoader.load(merchant, v3, credentials: credentials, warnings: &result.warnings) {
                case .success(let profile):
                    result.profiles.append(profile)
                case .failure(let failure):
                    result.unavailable[merchant.mchID] = failure.message
                }
                continue
            }
            let prefix = "merchants.\(merchant.mchID)"
            let source: ReadableFile
            do {
                source = try ReadableFile(
                    merchant.keySource, configKey: "\(prefix).key_file", credentialKey: "\(prefix).key_credential",
                    credentials: credentials, what: "key file", warnings: &result.warnings)
            } catch {
                result.unavailable[merchant.mchID] = error.description
                continue
            }
            let (path, configKey) = (source.path, source.configKey)
            do {
                let text = try KeyFile.read(path)
                let key = try APIKey(fileContents: text)
                if let warning = KeyFile.lengthWarning(text, path: path) { result.warnings.append("\(configKey): \(warning)") }
                result.profiles.append(
                    MerchantProfile(
                        merchant: V2Merchant(
                            credentials: MerchantCredentials(mchID: merchant.mchID, signType: merchant.signType, key: key)),
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

/// A secret's file, resolved (a `*_file` path, or a credential's source or copy) and checked
/// (`FilePermissions`): a file others may write is refused, one they may read is warned about.
struct ReadableFile {
    var path: String
    /// The config key to name in messages (`merchants.X.key_file` or `….key_credential`).
    var configKey: String

    init(
        _ source: MerchantConfig.KeySource, configKey fileKey: String, credentialKey: String, credentials: CredentialFiles,
        what: String, warnings: inout [String]
    ) throws(CredentialFiles.Failure) {
        let isSource: Bool
        switch source {
        case .file(let file):
            (path, configKey, isSource) = (file, fileKey, true)
        case .credential(let name):
            let resolved = try credentials.resolve(name, configKey: credentialKey)
            (path, configKey, isSource) = (resolved.path, credentialKey, resolved.isSource)
            if let note = resolved.restartNote { warnings.append(note) }
        }
        // systemd's copy is systemd's to guard; the files an operator placed are checked.
        guard isSource else { return }
        if let refusal = FilePermissions.refusal(for: path, what: what) {
            throw CredentialFiles.Failure(description: "\(configKey): \(refusal)")
        }
        warnings += FilePermissions.warnings(for: path, what: what).map { "\(configKey): \($0)" }
    }
}
