import BenchSupport
import Foundation
import GRDB
import OrderClosing
import SQLiteOrderStore
#if canImport(Glibc)
import Glibc
#endif

// closeorderd-retention-bench: P6 of issue 13. A simulated week of closes through the real
// SQLiteOrderStore on a real WAL file, `now` advanced by hand, retention as the daemon runs it
// (keep_days = 1); then a day's worth of finished orders pruned with the daemon's schedule in
// real time while a second process inserts as the merchant's app does.
//
//   closeorderd-retention-bench run [--orders 2000000] [--days 7] [--work DIR] [--report FILE] [--rate 200]
//   closeorderd-retention-bench inserter --database PATH --rate N --stop PATH --out PATH   (the second process)

let arguments = CommandLine.arguments
let values: [String: String] = {
    var parsed: [String: String] = [:]
    var index = 2
    while index < arguments.count {
        if arguments[index].hasPrefix("--"), index + 1 < arguments.count { parsed[String(arguments[index].dropFirst(2))] = arguments[index + 1] }
        index += 2
    }
    return parsed
}()
@MainActor func int(_ key: String, _ fallback: Int) -> Int { values[key].flatMap(Int.init) ?? fallback }

switch arguments.dropFirst().first {
case "inserter":
    try await runInserter(database: values["database"]!, rate: int("rate", 200), stopPath: values["stop"]!, outPath: values["out"]!)
case "run":
    do {
        let work = values["work"] ?? NSTemporaryDirectory() + "closeorderd-p6"
        let report = try await WeekSimulation(orders: int("orders", 2_000_000), days: int("days", 7), work: work, rate: int("rate", 200)).run()
        print(report)
        if let path = values["report"] { try report.write(toFile: path, atomically: true, encoding: .utf8) }
        try? FileManager.default.removeItem(atPath: work)
    } catch {
        log("closeorderd-retention-bench: \(error)")
        exit(2)
    }
default:
    log("usage: closeorderd-retention-bench run [--orders N] [--days N] [--work DIR] [--report FILE] [--rate N]")
    exit(64)
}
