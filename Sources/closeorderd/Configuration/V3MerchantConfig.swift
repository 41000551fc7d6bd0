import OrderClosing

/// A v3 merchant's settings (`"api": "v3"`): where its private key lives, its certificate serial,
/// and how WeChat Pay's answers are verified. Secrets are not in it, only where to read them.
///
/// | key                                   | meaning                                                        |
/// |---------------------------------------|----------------------------------------------------------------|
/// | `api`                                 | `"v2"` (default) or `"v3"`                                     |
/// | `private_key_file` / `private_key_credential` | `apiclient_key.pem` (PEM), by path or `LoadCredential=` name |
/// | `certificate_serial`                  | the merchant API certificate's serial number (hex)             |
/// | `certificate_file`                    | optional `apiclient_cert.pem`: check-config proves key and serial match it |
/// | `wechatpay_public_key_file` + `wechatpay_public_key_id` | WeChat Pay public key mode (`PUB_KEY_ID_…`) |
/// | `apiv3_key_file` / `apiv3_key_credential` | platform certificate mode: the APIv3 key that decrypts `/v3/certificates` |
///
/// At least one verification mode must be set; both together accept answers signed either way
/// (WeChat's staged switch from platform certificates to the public key).
struct V3MerchantConfig: Sendable, Hashable {
    enum Verification: Sendable, Hashable, CustomStringConvertible {
        case publicKey(file: String, id: String)
        case platformCertificates(apiV3Key: MerchantConfig.KeySource)
        case publicKeyAndPlatformCertificates(file: String, id: String, apiV3Key: MerchantConfig.KeySource)

        var description: String {
            switch self {
            case .publicKey(let file, let id): "WeChat Pay public key \(id) from \(file)"
            case .platformCertificates(let source): "platform certificates, APIv3 key <redacted> from \(source)"
            case .publicKeyAndPlatformCertificates(let file, let id, let source):
                "WeChat Pay public key \(id) from \(file) and platform certificates, APIv3 key <redacted> from \(source)"
            }
        }
    }

    var privateKey: MerchantConfig.KeySource
    var certificateSerial: String
    var certificateFile: String?
    var verification: Verification

    static let keys: Set<String> = [
        "api", "private_key_file", "private_key_credential", "certificate_serial", "certificate_file",
        "wechatpay_public_key_file", "wechatpay_public_key_id", "apiv3_key_file", "apiv3_key_credential",
    ]

    /// The v3 keys a v2 merchant must not set (and v2's a v3 merchant must not).
    static let v3OnlyKeys = keys.subtracting(["api"])
    static let v2OnlyKeys: Set<String> = ["sign_type", "key_file", "key_credential"]

    static func read(_ r: inout SettingsReader, prefix: String) -> V3MerchantConfig? {
        let before = r.problems.count
        for key in v2OnlyKeys.sorted() where r.string("\(prefix).\(key)") != nil {
            r.problems.append("\(prefix).\(key): a v2 setting; a v3 merchant uses private_key_file or private_key_credential")
        }
        let privateKey = source(
            &r, prefix: prefix, file: "private_key_file", credential: "private_key_credential",
            what: "the merchant API private key (apiclient_key.pem)")
        let serial = r.string("\(prefix).certificate_serial") ?? ""
        if serial.isEmpty || serial.count > 64 || !serial.allSatisfy(\.isHexDigit) {
            r.problems.append(
                "\(prefix).certificate_serial: the merchant API certificate's serial number, 1–64 hex digits, is required")
        }
        let certificateFile = r.string("\(prefix).certificate_file").flatMap { $0.isEmpty ? nil : $0 }
        if let certificateFile, !certificateFile.hasPrefix("/") {
            r.problems.append("\(prefix).certificate_file: must be an absolute path")
        }
        let publicKeyFile = r.string("\(prefix).wechatpay_public_key_file").flatMap { $0.isEmpty ? nil : $0 }
        let publicKeyID = r.string("\(prefix).wechatpay_public_key_id").flatMap { $0.isEmpty ? nil : $0 }
        let hasAPIv3Key = r.string("\(prefix).apiv3_key_file") != nil || r.string("\(prefix).apiv3_key_credential") != nil
        var publicKey: (file: String, id: String)?
        switch (publicKeyFile, publicKeyID) {
        case (let file?, let id?):
            if !file.hasPrefix("/") { r.problems.append("\(prefix).wechatpay_public_key_file: must be an absolute path") }
            if !id.hasPrefix("PUB_KEY_ID_") {
                r.problems.append("\(prefix).wechatpay_public_key_id: \"\(id)\" does not start with PUB_KEY_ID_")
            }
            publicKey = (file, id)
        case (.some, nil):
            r.problems.append(
                "\(prefix).wechatpay_public_key_id: required with wechatpay_public_key_file (the PUB_KEY_ID_… shown beside the key)"
            )
        case (nil, .some):
            r.problems.append("\(prefix).wechatpay_public_key_file: required with wechatpay_public_key_id")
        case (nil, nil):
            break
        }
        let apiV3Key =
            hasAPIv3Key
            ? source(&r, prefix: prefix, file: "apiv3_key_file", credential: "apiv3_key_credential", what: "the APIv3 key")
            : nil
        var verification: Verification?
        switch (publicKey, apiV3Key) {
        case (let key?, let source?):
            verification = .publicKeyAndPlatformCertificates(file: key.file, id: key.id, apiV3Key: source)
        case (let key?, nil): verification = .publicKey(file: key.file, id: key.id)
        case (nil, let source?): verification = .platformCertificates(apiV3Key: source)
        case (nil, nil):
            if publicKeyFile == nil, publicKeyID == nil, !hasAPIv3Key {
                r.problems.append(
                    "\(prefix): set wechatpay_public_key_file and wechatpay_public_key_id, or apiv3_key_file / apiv3_key_credential for platform certificates (or both)"
                )
            }
        }
        guard r.problems.count == before, let privateKey, let verification else { return nil }
        return V3MerchantConfig(
            privateKey: privateKey, certificateSerial: serial, certificateFile: certificateFile, verification: verification)
    }

    /// A secret's file or credential name: exactly one of the two.
    static func source(_ r: inout SettingsReader, prefix: String, file: String, credential: String, what: String)
        -> MerchantConfig.KeySource?
    {
        let path = r.string("\(prefix).\(file)").flatMap { $0.isEmpty ? nil : $0 }
        let name = r.string("\(prefix).\(credential)").flatMap { $0.isEmpty ? nil : $0 }
        switch (path, name) {
        case (let path?, nil):
            guard path.hasPrefix("/") else {
                r.problems.append("\(prefix).\(file): must be an absolute path")
                return nil
            }
            return .file(path)
        case (nil, let name?):
            guard !name.contains("/") else {
                r.problems.append("\(prefix).\(credential): a credential name has no '/'")
                return nil
            }
            return .credential(name)
        case (.some, .some):
            r.problems.append("\(prefix): set \(file) or \(credential), not both")
        case (nil, nil):
            r.problems.append("\(prefix): set \(file) or \(credential) for \(what) (never taken from the config or argv)")
        }
        return nil
    }
}
