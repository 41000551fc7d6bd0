import NIOConcurrencyHelpers
import OrderClosing
import WeChatPayV3

/// A merchant on API v3, as the gateway uses it: what signs its requests, and where the keys that
/// verify WeChat Pay's answers come from.
public struct V3Merchant: MerchantHandle {
    public enum Verification: Sendable {
        /// The WeChat Pay public key and its `PUB_KEY_ID_…`, read from a file once.
        case publicKey(WeChatPayKeys)
        /// Platform certificates fetched from `/v3/certificates`, decrypted with the APIv3 key,
        /// cached and refreshed (`PlatformCertificateCache`).
        case platformCertificates(APIv3Key, PlatformCertificateCache)
        /// Both, for WeChat's staged switch from certificates to the public key, which signs
        /// answers with either: the public key verifies even while no certificate is held.
        case publicKeyAndPlatformCertificates(WeChatPayKeys, APIv3Key, PlatformCertificateCache)
    }

    public let credentials: V3Credentials
    public let verification: Verification

    public init(credentials: V3Credentials, verification: Verification) {
        self.credentials = credentials
        self.verification = verification
    }

    public var mchID: String { credentials.mchID }
    public var api: MerchantAPI { .v3 }

    /// v3's id rules (`V3OrderReference`): `out_trade_no` 6–32 of `[0-9A-Za-z_-*]`.
    public func refusal(of order: OrderKey) -> String? {
        do {
            _ = try V3OrderReference(order)
            return nil
        } catch {
            return error.message
        }
    }

    /// Same signing key and serial, and the same way of verifying answers (public key id, or
    /// platform certificates). The APIv3 key is not compared: it cannot be read back.
    public func sameCredentials(as other: any MerchantHandle) -> Bool {
        guard let other = other as? V3Merchant else { return false }
        return credentials.mchID == other.credentials.mchID && credentials.serialNo == other.credentials.serialNo
            && credentials.privateKey.publicKey.pem == other.credentials.privateKey.publicKey.pem
            && verificationShape == other.verificationShape
    }

    /// The verification mode and, with a public key, its ids.
    var verificationShape: String {
        switch verification {
        case .publicKey(let keys): "publicKey \(keys.serials)"
        case .platformCertificates: "platformCertificates"
        case .publicKeyAndPlatformCertificates(let keys, _, _): "both \(keys.serials)"
        }
    }

    /// The platform certificate cache, in either mode that fetches certificates.
    public var certificateCache: PlatformCertificateCache? {
        switch verification {
        case .publicKey: nil
        case .platformCertificates(_, let cache), .publicKeyAndPlatformCertificates(_, _, let cache): cache
        }
    }
}

/// One merchant's platform certificates and when to fetch them again. Certificates expired when
/// fetched are dropped, so they neither verify nor set the schedule.
///
/// | situation                                        | fetch `/v3/certificates`                   |
/// |--------------------------------------------------|--------------------------------------------|
/// | none held yet                                    | before the next call                       |
/// | `refreshIntervalMs` (1 h) since the last fetch   | before the next call (new ones appear ~a day before a switch) |
/// | the earliest held certificate expires within 1 h, no later one held | before the next call, at most once a minute |
/// | … and a later one (its successor) is held        | when the earliest expires (it is then dropped) |
/// | every certificate listed had expired             | after a minute                             |
/// | an answer named a serial we do not hold          | before the next call, at most once a minute |
/// | a fetch failed                                   | keep the held ones; try again after a minute (after `refreshIntervalMs` when the public key also verifies) |
///
/// Pure state: the caller passes `now` (unix ms).
public final class PlatformCertificateCache: Sendable {
    public static let refreshIntervalMs: Int64 = 3_600_000
    public static let retryAfterFailureMs: Int64 = 60_000

    struct State {
        var keys: WeChatPayKeys?
        var nextFetchAt: Int64 = 0
    }

    let state = NIOLockedValueBox(State())

    public init() {}

    /// The held keys, or nil before the first successful fetch.
    public var keys: WeChatPayKeys? { state.withLockedValue { $0.keys } }

    /// Whether a fetch is due before the next call.
    public func needsFetch(now: Int64) -> Bool {
        state.withLockedValue { now >= $0.nextFetchAt }
    }

    /// Installs freshly fetched certificates, without those already expired; returns what is held.
    @discardableResult
    public func install(_ fetched: WeChatPayKeys, now: Int64) -> WeChatPayKeys {
        let held = fetched.withoutExpired(at: now / 1000)
        state.withLockedValue { state in
            state.keys = held
            state.nextFetchAt = Self.nextFetch(after: now, holding: held)
        }
        return held
    }

    /// The table's schedule after a successful fetch at `now`.
    static func nextFetch(after now: Int64, holding held: WeChatPayKeys) -> Int64 {
        guard let earliest = held.earliestExpiry.map({ $0 * 1000 }), let latest = held.latestExpiry.map({ $0 * 1000 }) else {
            return now + retryAfterFailureMs
        }
        var next = now + refreshIntervalMs
        if earliest - refreshIntervalMs > now {
            next = min(next, earliest - refreshIntervalMs)
        } else if latest > earliest {
            next = min(next, earliest + 1000)
        } else {
            next = now + retryAfterFailureMs
        }
        return max(next, now + retryAfterFailureMs)
    }

    /// A fetch failed: keep what is held, try again `retryAfterMs` later.
    public func fetchFailed(now: Int64, retryAfterMs: Int64 = retryAfterFailureMs) {
        state.withLockedValue { $0.nextFetchAt = now + retryAfterMs }
    }

    /// An answer named an unknown serial: fetch again soon (a rotation), but not more than once a minute.
    public func sawUnknownSerial(now: Int64) {
        state.withLockedValue { $0.nextFetchAt = min($0.nextFetchAt, now + Self.retryAfterFailureMs) }
    }
}
