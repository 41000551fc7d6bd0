import NIOConcurrencyHelpers
import WeChatPayV3

/// A merchant on API v3, as the gateway uses it: what signs its requests, and where the keys that
/// verify WeChat Pay's answers come from.
public struct V3Merchant: Sendable {
    public enum Verification: Sendable {
        /// The WeChat Pay public key and its `PUB_KEY_ID_…`, read from a file once.
        case publicKey(WeChatPayKeys)
        /// Platform certificates fetched from `/v3/certificates`, decrypted with the APIv3 key,
        /// cached and refreshed (`PlatformCertificateCache`).
        case platformCertificates(APIv3Key, PlatformCertificateCache)
    }

    public let credentials: V3Credentials
    public let verification: Verification

    public init(credentials: V3Credentials, verification: Verification) {
        self.credentials = credentials
        self.verification = verification
    }

    public var mchID: String { credentials.mchID }
}

/// One merchant's platform certificates and when to fetch them again.
///
/// | situation                                        | fetch `/v3/certificates`                   |
/// |--------------------------------------------------|--------------------------------------------|
/// | none held yet                                    | before the next call                       |
/// | `refreshIntervalMs` (1 h) since the last fetch   | before the next call (new ones appear ~a day before a switch) |
/// | the earliest held certificate expires within 1 h | before the next call                       |
/// | an answer named a serial we do not hold          | before the next call, at most once a minute |
/// | a fetch failed                                   | keep the held ones; try again after a minute |
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
        state.withLockedValue { $0.keys == nil || now >= $0.nextFetchAt }
    }

    /// Installs freshly fetched certificates.
    public func install(_ keys: WeChatPayKeys, now: Int64) {
        state.withLockedValue { state in
            state.keys = keys
            var next = now + Self.refreshIntervalMs
            if let expiry = keys.earliestExpiry { next = min(next, max(now + Self.retryAfterFailureMs, expiry * 1000 - Self.refreshIntervalMs)) }
            state.nextFetchAt = next
        }
    }

    /// A fetch failed: keep what is held, try again a minute later.
    public func fetchFailed(now: Int64) {
        state.withLockedValue { $0.nextFetchAt = now + Self.retryAfterFailureMs }
    }

    /// An answer named an unknown serial: fetch again soon (a rotation), but not more than once a minute.
    public func sawUnknownSerial(now: Int64) {
        state.withLockedValue { $0.nextFetchAt = min($0.nextFetchAt, now + Self.retryAfterFailureMs) }
    }
}
