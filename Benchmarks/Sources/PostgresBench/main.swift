import BenchSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// closeorderd-pg-bench: issue 15's PostgreSQL benchmarks of the real `closeorderd run` binary
// (scripts/bench-postgres runs it; see PostgresSuite.swift for what each figure is).
//
//   closeorderd-pg-bench suite --daemon PATH [--quick] [--only p1,p5,p3] [--runs N] [--orders N] [--scheduled N] [--daemons 1,2] [--p5-daemons 1] [--pg-setting synchronous_commit=off]
//                              [--work DIR] [--report FILE] [--daemon-build "how it was built"]
//   closeorderd-pg-bench inserter …   (the merchant's app, a second process started by the suite)

let arguments = CommandLine.arguments
let parsed = Arguments(arguments.dropFirst(2))
switch arguments.dropFirst().first {
case "inserter":
    try await postgresInserterMain(port: parsed.int("port", 5432), database: parsed.values["database"] ?? "",
                                   rate: parsed.int("rate", 200), stopPath: parsed.values["stop"] ?? "", outPath: parsed.values["out"] ?? "")
case "suite":
    do {
        exit(try await postgresSuite(parsed))
    } catch {
        log("closeorderd-pg-bench: \(error)")
        exit(2)
    }
default:
    log("usage: closeorderd-pg-bench suite --daemon PATH [--quick] [--only p1,p5,p3] [--runs N] [--orders N] [--scheduled N] [--daemons 1,2] [--p5-daemons 1] [--pg-setting synchronous_commit=off] [--work DIR] [--report FILE]")
    exit(64)
}
