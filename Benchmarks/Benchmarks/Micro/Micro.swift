import Benchmark
import Foundation
import GRDB
import WeChatPayV2

// Micro-benchmarks of the per-close work that is not I/O: v2 signing, the XML body, decoding and
// verifying an answer, v3's RSA signing and verifying (V3Micro.swift), and the daemon's claim/record SQL on a WAL database (GRDB, the same
// pragmas as SQLiteOrderStore). Run with `swift package benchmark` from Benchmarks/ (or
// scripts/bench). BENCH_QUICK=1 shortens every benchmark to a few iterations (CI).

let quick = ProcessInfo.processInfo.environment["BENCH_QUICK"] != nil
nonisolated(unsafe) let configuration = Benchmark.Configuration(
    metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
    warmupIterations: quick ? 1 : 10,
    maxDuration: quick ? .milliseconds(200) : .seconds(2),
    maxIterations: quick ? 20 : 1_000_000
)

let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")
let order = try! OrderReference(appID: "wx2421b1c4370ec43b", mchID: "1900000109", outTradeNo: "ORDER-20261129-0001")
let md5 = MerchantCredentials(mchID: "1900000109", signType: .md5, key: key)
let hmac = MerchantCredentials(mchID: "1900000109", signType: .hmacSHA256, key: key)
let requestFields = ["appid": "wx2421b1c4370ec43b", "mch_id": "1900000109", "out_trade_no": "ORDER-20261129-0001",
                     "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "sign_type": "HMAC-SHA256"]

/// A signed SUCCESS answer to a close, as WeChat (and the fake) sends it: 9 fields.
func answer(_ credentials: MerchantCredentials) -> [UInt8] {
    var fields = ["return_code": "SUCCESS", "return_msg": "OK", "appid": order.appID, "mch_id": order.mchID,
                  "nonce_str": "BC3ED7FF0F3F4D87A1E7ADE2F2CC1D1C", "result_code": "SUCCESS", "result_msg": "OK",
                  "sign_type": credentials.signType.rawValue]
    fields["sign"] = Signer.sign(fields, type: credentials.signType, key: credentials.key)
    return try! XMLBodyEncoder.encode(fields)
}

// MARK: The claim query, on a scratch database with due orders

let claimSQL = """
    UPDATE pending_orders
    SET status = 'closing', lease_owner = ?, lease_token = ?, lease_expires_ms = ?,
        attempts = attempts + 1, first_attempt_ms = coalesce(first_attempt_ms, ?), last_attempt_ms = ?
    WHERE id IN (
        SELECT id FROM pending_orders
        WHERE status = 'pending' AND next_attempt_ms <= ?
          AND (created_at + max(timeout_seconds, ?) + ?) * 1000 <= ?
        ORDER BY next_attempt_ms LIMIT ?)
    RETURNING id, mch_id, appid, out_trade_no, sub_mch_id, sub_appid, created_at, timeout_seconds,
              attempts, in_doubt, first_attempt_ms
    """

/// A WAL pool like the daemon's, with the schema from migrations/0001 and `due` due orders.
func scratchPool(due: Int) throws -> DatabasePool {
    let path = NSTemporaryDirectory() + "closeorderd-micro-\(UUID().uuidString).sqlite"
    var configuration = Configuration()
    configuration.prepareDatabase { db in
        try db.execute(sql: "PRAGMA temp_store = MEMORY")
        try db.execute(sql: "PRAGMA synchronous = NORMAL")
    }
    let pool = try DatabasePool(path: path, configuration: configuration)
    let migrations = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../migrations").standardized
    let files = try FileManager.default.contentsOfDirectory(atPath: migrations.path).filter { $0.hasSuffix(".sql") }.sorted()
    try pool.write { db in
        for file in files { try db.execute(sql: try String(contentsOfFile: migrations.path + "/" + file, encoding: .utf8)) }
        try db.execute(sql: """
            WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
            INSERT INTO pending_orders (mch_id, appid, out_trade_no, created_at, timeout_seconds)
            SELECT '1900000109', 'wx2421b1c4370ec43b', 'M' || printf('%09d', i), ?, 0 FROM seq
            """, arguments: [due, Int64(Date().timeIntervalSince1970) - 400])
    }
    return pool
}

func claim(_ pool: DatabasePool, batch: Int) throws -> [Int64] {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    return try pool.write { db in
        try Row.fetchAll(db, sql: claimSQL, arguments: ["micro", UUID().uuidString, now + 60_000, now, now, now, 300, 0, now, batch])
            .map { $0["id"] as Int64 }
    }
}

/// The finishing write of a batch: the order's UPDATE and its audit INSERT, one transaction.
func record(_ pool: DatabasePool, ids: [Int64]) throws {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    try pool.write { db in
        for id in ids {
            try db.execute(sql: """
                UPDATE pending_orders SET status = 'closed', outcome = 'closed', finished_ms = ?,
                    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL WHERE id = ? AND status = 'closing'
                """, arguments: [now, id])
            try db.execute(sql: """
                INSERT INTO close_attempts (order_id, mch_id, out_trade_no, attempt, operation, started_ms, finished_ms,
                    endpoint, http_status, return_code, result_code, outcome)
                VALUES (?, '1900000109', 'M', 1, 'closeorder', ?, ?, 'http://127.0.0.1', 200, 'SUCCESS', 'SUCCESS', 'closed')
                """, arguments: [id, now, now])
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = configuration

    Benchmark("sign MD5 (5 fields)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(Signer.sign(requestFields, type: .md5, key: key)) }
    }
    Benchmark("sign HMAC-SHA256 (5 fields)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(Signer.sign(requestFields, type: .hmacSHA256, key: key)) }
    }
    Benchmark("encode XML body (6 fields)") { benchmark in
        var fields = requestFields
        fields["sign"] = "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        for _ in benchmark.scaledIterations { blackHole(try XMLBodyEncoder.encode(fields)) }
    }
    Benchmark("signed close request (sign + XML, HMAC-SHA256)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SignedRequest(.closeOrder, order: order, credentials: hmac, nonce: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"))
        }
    }
    Benchmark("decode XML answer (9 fields)") { benchmark in
        let body = answer(hmac)
        for _ in benchmark.scaledIterations { blackHole(try StrictXMLDecoder.decode(body)) }
    }
    Benchmark("classify close answer (decode + verify + classify, HMAC-SHA256)") { benchmark in
        let body = answer(hmac)
        let (outcome, _) = ResponseClassifier.classifyClose(httpStatus: 200, body: body, order: order, credentials: hmac)
        precondition(outcome == .closed, "the benchmark's answer is not believed: \(outcome)")
        for _ in benchmark.scaledIterations {
            blackHole(ResponseClassifier.classifyClose(httpStatus: 200, body: body, order: order, credentials: hmac))
        }
    }
    for batch in [1, 16] {
        let claimConfiguration = Benchmark.Configuration(metrics: [.wallClock, .cpuTotal, .throughput], warmupIterations: 1,
                                                         maxDuration: quick ? .milliseconds(200) : .seconds(2),
                                                         maxIterations: iterations)
        Benchmark("claim B=\(batch) (UPDATE … RETURNING, one transaction)", configuration: claimConfiguration) { benchmark in
            let pool = batch == 1 ? claimPool1 : claimPool16
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try claim(pool, batch: batch)) }
            benchmark.stopMeasurement()
        }
        Benchmark("record B=\(batch) (UPDATE + audit INSERT per order, one transaction)", configuration: claimConfiguration) { benchmark in
            let pool = batch == 1 ? recordPool1 : recordPool16
            let ids = try claim(pool, batch: batch)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { try record(pool, ids: ids) }
            benchmark.stopMeasurement()
        }
    }
    v3Benchmarks()
}

let iterations = quick ? 20 : 2_000
// Scratch databases with enough due orders for every iteration (plus warm-up), made on first use.
nonisolated(unsafe) let claimPool1 = try! scratchPool(due: (iterations + 10) * 1)
nonisolated(unsafe) let claimPool16 = try! scratchPool(due: (iterations + 10) * 16)
nonisolated(unsafe) let recordPool1 = try! scratchPool(due: (iterations + 10) * 1)
nonisolated(unsafe) let recordPool16 = try! scratchPool(due: (iterations + 10) * 16)
