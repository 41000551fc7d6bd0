import NIOConcurrencyHelpers
import OrderClosing

/// The app's side of the table in memory, refusing what the SQL schemas refuse (migrations 1, 2
/// and 5), each with the column named as the SQLite schema words it, so tests on the double see
/// the real refusals. `OrderIntakeConformanceTests` holds it to the real stores.
///
/// | column                  | refused when                                                        |
/// |-------------------------|---------------------------------------------------------------------|
/// | mch_id, appid           | not 1–32 characters, padded with spaces, or holding a control char  |
/// | out_trade_no            | not 1–32 of `[0-9A-Za-z_|*@-]`                                      |
/// | sub_mch_id, sub_appid   | over 32 characters, or holding a control character                 |
/// | created_at              | outside [1388534400, 4102444800): 2014 to 2100, unix seconds        |
/// | timeout_seconds         | outside 0 … 315,360,000 (10 years)                                  |
/// | (mch_id, out_trade_no)  | already in the table                                                |
extension InMemoryOrderStore: OrderIntake {
    public func insert(_ orders: [NewOrder]) async throws -> [IntakeResult] {
        state.withLockedValue { state in
            orders.map { order in
                if let reason = Self.refusal(of: order, in: state) { return .refused(reason: reason) }
                state.lastID += 1
                state.rows.append(
                    Row(
                        id: state.lastID, mchID: order.mchID, appID: order.appID, outTradeNo: order.outTradeNo,
                        subMchID: order.subMchID, subAppID: order.subAppID, createdAt: order.createdAt,
                        timeoutSeconds: order.timeoutSeconds))
                return .inserted(id: state.lastID)
            }
        }
    }

    public func markPaid(mchID: String, outTradeNo: String) async throws -> Bool {
        state.withLockedValue { state in
            guard
                let index = state.rows.firstIndex(where: {
                    $0.mchID == mchID && $0.outTradeNo == outTradeNo && [.pending, .closing].contains($0.status)
                })
            else { return false }
            state.rows[index].status = .paid
            state.rows[index].inDoubt = false  // migration 5's trigger: a decided row is not in doubt
            return true
        }
    }

    static func refusal(of order: NewOrder, in state: State) -> String? {
        for (column, value) in [("mch_id", order.mchID), ("appid", order.appID)] {
            let length = value.unicodeScalars.count
            if length < 1 || length > 32 || value.hasPrefix(" ") || value.hasSuffix(" ") {
                return "CHECK constraint failed: \(column) must be 1 to 32 characters, not padded"
            }
            if hasControlCharacter(value) { return "\(column) must not contain a NUL or other control character" }
        }
        let allowed = Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_|*@-".unicodeScalars)
        let id = order.outTradeNo.unicodeScalars
        if id.isEmpty || id.count > 32 || !id.allSatisfy(allowed.contains) {
            return "CHECK constraint failed: out_trade_no must be 1 to 32 of [0-9A-Za-z_|*@-]"
        }
        for (column, value) in [("sub_mch_id", order.subMchID), ("sub_appid", order.subAppID)] {
            guard let value else { continue }
            if value.unicodeScalars.count > 32 { return "CHECK constraint failed: \(column) must be at most 32 characters" }
            if hasControlCharacter(value) { return "\(column) must not contain a NUL or other control character" }
        }
        if !(1_388_534_400..<4_102_444_800).contains(order.createdAt) {
            return
                "created_at must be unix seconds from 1388534400 (2014-01-01) to before 4102444800 (2100-01-01); milliseconds are refused"
        }
        if !(0...DuePolicy.maxTimeoutSeconds).contains(order.timeoutSeconds) {
            return "timeout_seconds must be from 0 to \(DuePolicy.maxTimeoutSeconds) (10 years)"
        }
        if state.rows.contains(where: { $0.mchID == order.mchID && $0.outTradeNo == order.outTradeNo }) {
            return "UNIQUE constraint failed: pending_orders.mch_id, pending_orders.out_trade_no"
        }
        return nil
    }

    /// NUL, U+0001–U+001F or U+007F–U+009F (migration 2).
    static func hasControlCharacter(_ value: String) -> Bool {
        value.unicodeScalars.contains { $0.value <= 0x1F || (0x7F...0x9F).contains($0.value) }
    }
}
