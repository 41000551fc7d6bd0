import ArgumentParser
import FakeWeChatPay
import Foundation
import Logging
import OrderClosing
import ServiceLifecycle
import ServiceSupport
import UnixSignals
import WeChatPayHTTP
import WeChatPayV2
import WeChatPayV3

struct FakeWeChatPayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-wechatpay",
        abstract: "Serve the built-in fake WeChat Pay on loopback, for local integration.",
        discussion: """
            Answers POST /pay/closeorder and /pay/orderquery with WeChat's rules: it verifies each request's \
            signature with the merchants' keys from the same config file the daemon uses (a wrong key gets \
            return_code FAIL 签名错误), signs its answers, and remembers each order's state. Orders it was never \
            told about are treated as unpaid (use --unknown-orders notexist to answer ORDERNOTEXIST instead). \
            Point the daemon at it with wechatpay.primary_url = http://127.0.0.1:PORT. Stops on SIGTERM/SIGINT \
            and prints a summary of the calls it saw.

            Merchants with "api": "v3" are served on API v3: the fake checks each request's signature with \
            the public half of the merchant's private key and certificate_serial, and signs its answers with \
            a key pair it makes at start. A merchant in platform-certificate mode (apiv3_key_file) fetches \
            that key from /v3/certificates and needs nothing more. For the WeChat Pay public key mode, start \
            the fake with --write-wechatpay-public-key FILE, name FILE as the merchant's \
            wechatpay_public_key_file and \(FakeWeChatPayCommand.publicKeyID) as its wechatpay_public_key_id.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "Loopback address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 18_080
    @Option(name: .customLong("unknown-orders"), help: "notpay or notexist.") var unknownOrders = "notpay"
    @Option(name: .customLong("latency-ms"), help: "Added to every answer.") var latencyMs = 0
    @Option(name: .customLong("fault-rate"), help: "Share of calls (0–1) answered with a random fault from --faults.")
    var faultRate = 0.0
    @Option(help: "Comma-separated faults for --fault-rate, e.g. systemError,http503,connectionReset.")
    var faults = "systemError"
    @Option(
        name: .customLong("write-wechatpay-public-key"),
        help:
            "Write the fake's WeChat Pay public key (PEM) to this file before reading the config, for v3 merchants in public key mode."
    )
    var publicKeyFile: String?

    /// The id the fake gives its WeChat Pay public key (`FakeV3Identity.make`).
    static let publicKeyID = "PUB_KEY_ID_0119000001092026113000000000"

    func validate() throws {
        guard ["127.0.0.1", "::1", "localhost"].contains(host) else { throw ValidationError("--host must be a loopback address") }
        guard UnknownOrderPolicy(rawValue: unknownOrders == "notpay" ? "notPay" : "notExist") != nil,
            ["notpay", "notexist"].contains(unknownOrders)
        else { throw ValidationError("--unknown-orders is notpay or notexist") }
        guard (0...1).contains(faultRate) else { throw ValidationError("--fault-rate must be between 0 and 1") }
    }

    func run() async throws {
        // The key is made first: a public-key-mode merchant's config names the file written here.
        let weChatPayKey = MerchantPrivateKey.generate()
        if let publicKeyFile {
            guard
                FileManager.default.createFile(
                    atPath: publicKeyFile, contents: Data(weChatPayKey.publicKey.pem.utf8),
                    attributes: [.posixPermissions: 0o644])
            else {
                printError("fake-wechatpay: cannot write --write-wechatpay-public-key \(publicKeyFile)")
                throw ExitCode(1)
            }
        }
        let checked = await CheckedConfig.load(options)
        guard !checked.profiles.isEmpty else {
            for problem in checked.problems { printError("error: \(problem)") }
            printError("fake-wechatpay: no merchant keys could be loaded from \(checked.source)")
            throw ExitCode(1)
        }
        let faultList = try faults.split(separator: ",").map { name -> FakeFault in
            guard let fault = FakeFault.allCases.first(where: { "\($0)" == name.trimmingCharacters(in: .whitespaces) }) else {
                throw ValidationError(
                    "unknown fault \(name); one of \(FakeFault.allCases.map { "\($0)" }.joined(separator: ", "))")
            }
            return fault
        }
        let merchants = checked.profiles.compactMap { profile in
            (profile.merchant as? V2Merchant).map {
                FakeMerchant(mchID: profile.mchID, key: $0.credentials.key, appIDs: profile.appIDs)
            }
        }
        let fake = FakeWeChatPay(
            merchants: merchants, unknownOrders: unknownOrders == "notpay" ? .notPay : .notExist,
            now: { Date().timeIntervalSince1970 })
        fake.setV3Identity(.make(nowSeconds: Int64(Date().timeIntervalSince1970), key: weChatPayKey))
        for (mchID, merchant) in checked.v3Merchants.sorted(by: { $0.key < $1.key }) {
            fake.addV3Merchant(Self.fakeMerchant(merchant))
            if let problem = Self.publicKeyProblem(merchant, fake: fake.v3Identity) {
                printError("fake-wechatpay: merchant \(mchID): \(problem)")
            }
        }
        fake.latency = .milliseconds(latencyMs)
        fake.setFaultRate(faultRate, faults: faultList)
        let server = FakeWeChatPayServer(fake: fake, host: host, threads: 1)
        let bound = try await server.start(port: port)
        let v3 = checked.v3Merchants.keys.sorted()
        print(
            "fake-wechatpay: listening on http://\(host):\(bound) for merchants \(merchants.map(\.mchID).joined(separator: ", "))"
                + (v3.isEmpty
                    ? "" : "; on API v3 \(v3.joined(separator: ", ")) (WeChat Pay public key id \(fake.v3Identity.publicKeyID))"))
        fflush(nil)
        let service = FakeServerService(server: server)
        let group = ServiceGroup(
            services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "fake-wechatpay"))
        try await group.run()
        let calls = fake.calls
        print(
            "fake-wechatpay: \(calls.count) calls, \(calls.filter { !$0.signatureValid }.count) with a bad signature, "
                + "\(fake.violations.count) early closes")
    }
}

extension FakeWeChatPayCommand {
    /// The fake's view of a v3 merchant from the config: its request key and serial, and the key
    /// mode its answers are signed for.
    static func fakeMerchant(_ merchant: V3Merchant) -> FakeV3Merchant {
        switch merchant.verification {
        case .publicKey:
            FakeV3Merchant(
                mchID: merchant.mchID, serialNo: merchant.credentials.serialNo,
                publicKey: merchant.credentials.privateKey.publicKey, verification: .publicKey)
        case .platformCertificates(let apiV3Key, _), .publicKeyAndPlatformCertificates(_, let apiV3Key, _):
            FakeV3Merchant(
                mchID: merchant.mchID, serialNo: merchant.credentials.serialNo,
                publicKey: merchant.credentials.privateKey.publicKey, verification: .platformCertificate, apiV3Key: apiV3Key)
        }
    }

    /// Why the daemon will not believe the fake's answers for a public-key-mode merchant, or nil.
    static func publicKeyProblem(_ merchant: V3Merchant, fake identity: FakeV3Identity) -> String? {
        guard case .publicKey(let keys) = merchant.verification else { return nil }
        guard let key = keys.key(forSerial: identity.publicKeyID), key.matches(identity.key.publicKey) else {
            return "its wechatpay_public_key_id and _file must be \(identity.publicKeyID) and the file written by "
                + "--write-wechatpay-public-key, or the daemon will refuse every answer"
        }
        return nil
    }
}

/// Keeps the fake serving until a graceful shutdown.
struct FakeServerService: Service {
    let server: FakeWeChatPayServer

    func run() async throws {
        try? await gracefulShutdown()
        try await server.shutdown()
    }
}
