import ArgumentParser
import Foundation
import WeChatPayV2

struct SignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Print the v2 signature of some fields, to debug SIGNERROR.",
        discussion: """
            Signs FIELD=VALUE pairs exactly as closeorderd signs requests (empty values and `sign` are left \
            out; sign_type is signed if given). The key is read from --key-file, never from the command line. \
            Compare the printed sign with the one in your request. Example:
              closeorderd sign --key-file key.txt --sign-type MD5 appid=wxd930ea5d5a258f4f mch_id=10000100 \
            device_info=1000 body=test nonce_str=ibuaiVcKdpRxkhJA
            """
    )

    @Option(name: .customLong("key-file"), help: ArgumentHelp("File holding the merchant's API key.", valueName: "path"))
    var keyFile: String
    @Option(name: .customLong("sign-type"), help: "MD5 or HMAC-SHA256.") var signType: String = "MD5"
    @Argument(help: "Fields as FIELD=VALUE.") var fields: [String]

    func run() async throws {
        guard let type = SignType(rawValue: signType) else {
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
        let key: APIKey
        do {
            key = try APIKey(fileContents: String(contentsOfFile: keyFile, encoding: .utf8))
        } catch {
            printError("error: cannot use the key in \(keyFile): \(error)")
            throw ExitCode(1)
        }
        for warning in FilePermissions.warnings(for: keyFile, what: "key file") { printError("warning: \(warning)") }
        print(Signer.sign(map, type: type, key: key))
    }
}
