import Foundation
import OrderClosing
import WeChatPayHTTP
import WeChatPayV3

/// Reads a v3 merchant's private key, and its WeChat Pay public key or APIv3 key, from files or
/// systemd credentials. Messages name the config key and the file, never a key's contents.
///
/// | check                                                   | when it fails                          |
/// |---------------------------------------------------------|----------------------------------------|
/// | the private key file reads as an RSA key ≥ 2048 bits     | merchant unavailable                   |
/// | `certificate_file`, when given, has `certificate_serial` and the private key's public key | merchant unavailable |
/// | the WeChat Pay public key file reads as an RSA public key | merchant unavailable                   |
/// | a key file, or the public key file, is writable by others or owned by another user (`FilePermissions`) | merchant unavailable |
/// | the APIv3 key is exactly 32 characters                   | merchant unavailable                   |
///
/// A merchant may set both the public key and the APIv3 key (WeChat's staged switch): both are read.
enum V3KeyLoader {
    struct Failure: Error {
        let message: String
    }

    static func load(
        _ merchant: MerchantConfig, _ v3: V3MerchantConfig, credentials: CredentialFiles,
        warnings: inout [String]
    ) -> Result<MerchantProfile, Failure> {
        let prefix = "merchants.\(merchant.mchID)"
        do {
            let privateKeyFile = try ReadableFile(
                v3.privateKey, configKey: "\(prefix).private_key_file",
                credentialKey: "\(prefix).private_key_credential", credentials: credentials,
                what: "key file", warnings: &warnings)
            let (keyPath, keyName) = (privateKeyFile.path, privateKeyFile.configKey)
            let privateKey: MerchantPrivateKey
            do {
                privateKey = try MerchantPrivateKey(pem: try KeyFile.read(keyPath))
            } catch let error as V3Error {
                throw Failure(message: "\(keyName): the key in \(keyPath) is unusable: \(error.message)")
            }
            if let certificateFile = v3.certificateFile {
                try checkCertificate(certificateFile, serial: v3.certificateSerial, key: privateKey, prefix: prefix)
            }
            let signing = try V3Credentials(mchID: merchant.mchID, serialNo: v3.certificateSerial, privateKey: privateKey)
            let verification: V3Merchant.Verification
            switch v3.verification {
            case .publicKey(let file, let id):
                verification = .publicKey(try publicKey(file: file, id: id, prefix: prefix))
            case .platformCertificates(let source):
                verification = .platformCertificates(
                    try apiV3Key(source, prefix: prefix, credentials: credentials, warnings: &warnings),
                    PlatformCertificateCache())
            case .publicKeyAndPlatformCertificates(let file, let id, let source):
                verification = .publicKeyAndPlatformCertificates(
                    try publicKey(file: file, id: id, prefix: prefix),
                    try apiV3Key(source, prefix: prefix, credentials: credentials, warnings: &warnings),
                    PlatformCertificateCache())
            }
            return .success(
                MerchantProfile(
                    merchant: V3Merchant(credentials: signing, verification: verification),
                    appIDs: Set(merchant.appIDs), ratePerSecond: merchant.ratePerSecond, burst: merchant.burst))
        } catch let failure as Failure {
            return .failure(failure)
        } catch let failure as CredentialFiles.Failure {
            return .failure(Failure(message: failure.description))
        } catch let error as KeyFile.Failure {
            return .failure(Failure(message: "\(prefix): \(error.description)"))
        } catch let error as V3Error {
            return .failure(Failure(message: "\(prefix): \(error.message)"))
        } catch {
            return .failure(Failure(message: "\(prefix): \(error)"))
        }
    }

    /// The WeChat Pay public key file, read as an RSA public key with its id. Whoever can write this
    /// file can forge every answer of WeChat Pay for this merchant, so it is checked as a key file.
    static func publicKey(file: String, id: String, prefix: String) throws -> WeChatPayKeys {
        if let refusal = FilePermissions.refusal(for: file, what: "WeChat Pay public key file") {
            throw Failure(message: "\(prefix).wechatpay_public_key_file: \(refusal)")
        }
        let pem = try KeyFile.read(file)
        do {
            return try WeChatPayKeys(publicKeyID: id, key: RSAPublicKey(pem: pem))
        } catch {
            throw Failure(message: "\(prefix).wechatpay_public_key_file: \(file): \(error.message)")
        }
    }

    /// The APIv3 key, from its file or credential.
    static func apiV3Key(
        _ source: MerchantConfig.KeySource, prefix: String, credentials: CredentialFiles,
        warnings: inout [String]
    ) throws -> APIv3Key {
        let apiKeyFile = try ReadableFile(
            source, configKey: "\(prefix).apiv3_key_file", credentialKey: "\(prefix).apiv3_key_credential",
            credentials: credentials, what: "key file", warnings: &warnings)
        do {
            return try APIv3Key(fileContents: KeyFile.read(apiKeyFile.path))
        } catch let error as V3Error {
            throw Failure(message: "\(apiKeyFile.configKey): the key in \(apiKeyFile.path) is unusable: \(error.message)")
        }
    }

    /// The merchant's `apiclient_cert.pem` must carry the configured serial and the private key's public key.
    static func checkCertificate(_ file: String, serial: String, key: MerchantPrivateKey, prefix: String) throws {
        let certificate: PlatformCertificate
        do {
            certificate = try PlatformCertificate(pem: KeyFile.read(file))
        } catch let error as V3Error {
            throw Failure(message: "\(prefix).certificate_file: \(file): \(error.message)")
        }
        func significant(_ hex: String) -> String { String(hex.uppercased().drop { $0 == "0" }) }
        guard significant(certificate.serialNo) == significant(serial) else {
            throw Failure(
                message: "\(prefix).certificate_serial: \(serial) is not the serial of \(file) (\(certificate.serialNo))")
        }
        guard certificate.publicKey.matches(key.publicKey) else {
            throw Failure(message: "\(prefix).private_key_file: the private key does not match the certificate in \(file)")
        }
    }
}
