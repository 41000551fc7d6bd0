import ArgumentParser
import Foundation
import WeChatPayV2

struct SignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Print the v2 signature of some fields, to debug SIGNERROR.",
        discussion: """
            Signs FIELD=VALUE pairs exactly as closeorderd signs requests (empty values and `sign` are left \
            out; sign_type is signed if given, and chooses the algorithm). The key is read from --key-file, \
            never from the command line. \
            Compare the printed sign with the one in your request. Example:
              closeorderd sign --key-file key.txt --sign-type MD5 appid=wxd930ea5d5a258f4f mch_id=10000100 \
            device_info=1000 body=test nonce_str=ibuaiVcKdpRxkhJA
            """
    )

    @Option(name: .customLong("key-file"), help: ArgumentHelp("File holding the merchant's API key.", valueName: "path"))
    var keyFile: String
    @Option(
        name: .customLong("sign-type"),
        help: ArgumentHelp(
            "MD5 or HMAC-SHA256.",
            discussion: "Default: the sign_type field if one is given (WeChat verifies with that), else MD5."))
    var signType: String?
    @Argument(help: "Fields as FIELD=VALUE.") var fields: [String]

    func run() async throws {
        if let signType, SignType(rawValue: signType) == nil {
            throw ValidationError("--sign-type must be MD5 or HMAC-SHA256, not \(signType)")
        }
        var map: [String: String] = [:]
        for field in fields {
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else {
                throw ValidationError("\"\(field)\" is not FIELD=VALUE")
            }
            let name = String(field[..<equals])
            guard map[name] == nil else { throw ValidationError("field \(name) is given twice") }
            map[name] = String(field[field.index(after: equals)...])
        }
        let type = try Self.signType(field: map["sign_type"], flag: signType)
        let key: APIKey
        do {
            let text = try KeyFile.read(keyFile)
            key = try APIKey(fileContents: text)
            if let warning = KeyFile.lengthWarning(text, path: keyFile) { printError("warning: \(warning)") }
        } catch let error as ProtocolError {
            printError("error: --key-file: the key in \(keyFile) is unusable: \(error.message)")
            throw ExitCode(1)
        } catch {
            printError("error: --key-file: \(error)")
            throw ExitCode(1)
        }
        for warning in FilePermissions.warnings(for: keyFile, what: "key file") { printError("warning: \(warning)") }
        print(Signer.sign(map, type: type, key: key))
    }

    /// WeChat checks the sign with the algorithm the `sign_type` field names (MD5 when absent), so
    /// that field decides; a flag that disagrees with it would print a sign WeChat never computes.
    static func signType(field: String?, flag: String?) throws -> SignType {
        if let field, let flag, field != flag {
            throw ValidationError(
                "the field sign_type=\(field) and --sign-type \(flag) disagree; WeChat signs with the field's type")
        }
        guard let type = SignType(rawValue: field ?? flag ?? SignType.md5.rawValue) else {
            throw ValidationError("sign_type=\(field ?? "") must be MD5 or HMAC-SHA256")
        }
        return type
    }
}
