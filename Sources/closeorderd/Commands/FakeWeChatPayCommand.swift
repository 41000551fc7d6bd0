import ArgumentParser
import FakeWeChatPay
import Foundation
import ServiceLifecycle
import ServiceSupport
import Logging
import WeChatPayV2

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

    func validate() throws {
        guard ["127.0.0.1", "::1", "localhost"].contains(host) else { throw ValidationError("--host must be a loopback address") }
        guard UnknownOrderPolicy(rawValue: unknownOrders == "notpay" ? "notPay" : "notExist") != nil,
              ["notpay", "notexist"].contains(unknownOrders) else { throw ValidationError("--unknown-orders is notpay or notexist") }
        guard (0...1).contains(faultRate) else { throw ValidationError("--fault-rate must be between 0 and 1") }
    }

    func run() async throws {
        let checked = await CheckedConfig.load(options)
        guard !checked.profiles.isEmpty else {
            for problem in checked.problems { printError("error: \(problem)") }
            printError("fake-wechatpay: no merchant keys could be loaded from \(checked.source)")
            throw ExitCode(1)
        }
        let faultList = try faults.split(separator: ",").map { name -> FakeFault in
            guard let fault = FakeFault.allCases.first(where: { "\($0)" == name.trimmingCharacters(in: .whitespaces) }) else {
                throw ValidationError("unknown fault \(name); one of \(FakeFault.allCases.map { "\($0)" }.joined(separator: ", "))")
            }
            return fault
        }
        let merchants = checked.profiles.map {
            FakeMerchant(mchID: $0.mchID, key: $0.credentials.key, appIDs: $0.appIDs)
        }
        let fake = FakeWeChatPay(merchants: merchants, unknownOrders: unknownOrders == "notpay" ? .notPay : .notExist,
                                 now: { Date().timeIntervalSince1970 })
        fake.latency = .milliseconds(latencyMs)
        fake.setFaultRate(faultRate, faults: faultList)
        let server = FakeWeChatPayServer(fake: fake, host: host, threads: 1)
        let bound = try await server.start(port: port)
        print("fake-wechatpay: listening on http://\(host):\(bound) for merchants \(merchants.map(\.mchID).joined(separator: ", "))")
        fflush(nil)
        let service = FakeServerService(server: server)
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "fake-wechatpay"))
        try await group.run()
        let calls = fake.calls
        print("fake-wechatpay: \(calls.count) calls, \(calls.filter { !$0.signatureValid }.count) with a bad signature, "
              + "\(fake.violations.count) early closes")
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
