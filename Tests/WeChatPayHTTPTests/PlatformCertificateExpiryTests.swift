import FakeWeChatPay
import Testing
import WeChatPayHTTP
import WeChatPayV3

/// Issue 21, item 5: a certificate that has expired is dropped when fetched, and neither verifies
/// nor drives the schedule (it used to set the next fetch a minute ahead, for ever).
@Suite struct PlatformCertificateExpiryTests {
    static let now: Int64 = 1_800_000_000_000
    static var nowSeconds: Int64 { now / 1000 }

    static func certificate(serial: UInt8, until notValidAfter: Int64) throws -> PlatformCertificate {
        try PlatformCertificate(
            pem: PlatformCertificate.selfSigned(
                key: FakeV3Keys.stranger, serial: [serial], commonName: "test",
                notValidBefore: nowSeconds - 400 * 86_400, notValidAfter: notValidAfter))
    }

    @Test func anExpiredCertificateIsDroppedAndDoesNotCauseAFetchEveryMinute() throws {
        let expired = try Self.certificate(serial: 0x0A, until: Self.nowSeconds - 86_400)
        let current = try Self.certificate(serial: 0x0B, until: Self.nowSeconds + 365 * 86_400)
        let cache = PlatformCertificateCache()
        cache.install(WeChatPayKeys(certificates: [expired, current]), now: Self.now)
        #expect(cache.keys?.serials == ["0B"], "the expired certificate is still held")
        #expect(cache.keys?.key(forSerial: "0A") == nil)
        #expect(!cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs), "fetches again a minute later")
        #expect(!cache.needsFetch(now: Self.now + PlatformCertificateCache.refreshIntervalMs - 1))
        #expect(cache.needsFetch(now: Self.now + PlatformCertificateCache.refreshIntervalMs))
    }

    /// In the old certificate's last hour, with its successor already held, nothing is fetched
    /// every minute: the next fetch is when the old one expires (and is then dropped).
    @Test func withTheSuccessorHeldTheNextFetchIsWhenTheOldOneExpires() throws {
        let expiry = Self.nowSeconds + 1_800
        let old = try Self.certificate(serial: 0x0A, until: expiry)
        let successor = try Self.certificate(serial: 0x0B, until: Self.nowSeconds + 365 * 86_400)
        let cache = PlatformCertificateCache()
        cache.install(WeChatPayKeys(certificates: [old, successor]), now: Self.now)
        #expect(cache.keys?.serials == ["0A", "0B"], "both verify until the old one expires")
        #expect(!cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs))
        #expect(!cache.needsFetch(now: expiry * 1000))
        #expect(cache.needsFetch(now: expiry * 1000 + 1000))
        cache.install(WeChatPayKeys(certificates: [old, successor]), now: expiry * 1000 + 1000)
        #expect(cache.keys?.serials == ["0B"])
    }

    @Test func whenEveryCertificateListedHasExpiredNoneIsHeldAndAFetchFollowsInAMinute() throws {
        let cache = PlatformCertificateCache()
        cache.install(
            WeChatPayKeys(certificates: [try Self.certificate(serial: 0x0A, until: Self.nowSeconds - 1)]), now: Self.now)
        #expect(cache.keys?.serials == [])
        #expect(!cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs - 1))
        #expect(cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs))
    }

    /// Nothing held after a failed fetch: calls in the next minute do not each fetch again.
    @Test func aFailedFirstFetchIsNotRepeatedByEveryCall() {
        let cache = PlatformCertificateCache()
        #expect(cache.needsFetch(now: Self.now))
        cache.fetchFailed(now: Self.now)
        #expect(!cache.needsFetch(now: Self.now + 1))
        #expect(cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs))
    }
}
