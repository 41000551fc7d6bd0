import BenchSupport
import Foundation

/// P1v3 (issue 14): P1 for API v3 beside v2, in one invocation. The same due orders and the same
/// fake answering at once; two v2 merchants (HMAC-SHA256 and MD5, as P1) in one run, two v3
/// merchants (public-key mode) in the next, alternating, the order swapped every other pair so
/// that a drift in the machine's load falls on both sides alike.
///
/// | per order        | v2                              | v3                                                   |
/// |------------------|---------------------------------|------------------------------------------------------|
/// | requests         | 1 close                         | 1 close (204) + 1 query to confirm it (design table) |
/// | daemon crypto    | 1 HMAC/MD5 sign + 1 verify      | 2 RSA-2048 signs + 2 RSA verifies                    |
/// | fake crypto      | 1 verify + 1 sign (HMAC/MD5)    | 2 RSA verifies + 2 RSA-2048 signs                    |
///
/// The fake signs with RSA too, on its one NIO thread, so at full speed v3's closes/s is bounded by
/// both processes sharing 2 cores; the CPU µs per close of each side is the comparable figure.
/// Where a v3 close's CPU goes, operation by operation, is in the micro-benchmarks ("v3: …").
/// With a baseline, "÷ baseline" compares the v3 medians (the v2 figures are P1's).
func p1v3(_ env: inout Env, sizes: Sizes, report: Report, problems: inout [String]) async throws {
    let orders = sizes.p1v3Orders
    log("== P1v3: \(orders) due orders per run, upstream at once, a v2 run and a v3 run alternating, \(sizes.runs) of each")
    var v2: (ours: [CloseRun], base: [CloseRun]) = ([], []), v3: (ours: [CloseRun], base: [CloseRun]) = ([], [])
    for index in 0..<sizes.runs {
        let apis: [BenchAPI] = index % 2 == 0 ? [.v2, .v3] : [.v3, .v2]
        for api in apis {
            // With a baseline, each API's run is an A/B pair of its own.
            let pair = try await env.alternate(runs: 1) { env in
                let run = try await runCloses(&env, CloseSpec(name: "p1v3-\(api.rawValue)", orders: orders, api: api))
                problems += run.problems.map { "P1v3 \(api.rawValue)\(env.side): \($0)" }
                if api == .v3, run.queries != run.closes {
                    problems.append("P1v3 v3\(env.side): \(run.queries) queries for \(run.closes) closes (one confirming query per 204 expected)")
                }
                return run
            }
            if api == .v2 { v2.ours += pair.ours; v2.base += pair.base } else { v3.ours += pair.ours; v3.base += pair.base }
        }
    }
    report.figure((v2.ours, v3.ours), env.baseline == nil ? nil : (v2.base, v3.base)) { rows, runs in
        let (v2, v3) = runs
        func row(_ figure: String, _ value: (CloseRun) -> Double, digits: Int = 0, unit: String = "") {
            let a = Spread(v2.map(value)), b = Spread(v3.map(value))
            let ratio = Spread(zip(v3, v2).map { value($0) / value($1) })
            rows.add("P1v3", "\(figure): v2 | v3 | v3 ÷ v2 (per pair)",
                     "\(a.format(digits))\(unit) | \(b.format(digits))\(unit) | \(ratio.format(2)) ×", "–", nil, value: b.median)
        }
        row("closes/s, \(orders) due orders, upstream at once", \.rate)
        row("daemon CPU per close", \.daemonUsPerClose, unit: " µs")
        row("fake CPU per close (its NIO thread)", \.fakeUsPerClose, unit: " µs")
        row("cores busy, daemon + fake (of 2)", \.coresBusy, digits: 2)
        row("SQLite write commits per close", \.commitsPerClose, digits: 3)
    }
    report.notes.append("P1v3: a v3 close is a POST answered 204 and a GET that confirms it (2 requests, 2 audit rows, 2 RSA-2048 signatures "
                        + "each side); v2 is 1 request. Both sides' per-operation costs: the micro-benchmarks' \"v2:\" and \"v3:\" rows")
}
