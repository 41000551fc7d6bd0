import FakeWeChatPay
import Testing
import WeChatPayHTTP
import WeChatPayV3

/// When a v3 merchant's platform certificates are fetched again (`PlatformCertificateCache`'s table).
@Suite struct PlatformCertificateCacheTests {
    static let key = FakeV3Keys.stranger
    static let now: Int64 = 1_800_000_000_000

    static func keys(expiringAt seconds: Int64) throws -> WeChatPayKeys {
        let pem = try PlatformCertificate.selfSigned(
            key: key, serial: [0x01, 0x02], commonName: "test",
            notValidBefore: now / 1000 - 60, notValidAfter: seconds)
        return WeChatPayKeys(certificates: [try PlatformCertificate(pem: pem)])
    }

    @Test func nothingHeldMeansFetchNow() {
        #expect(PlatformCertificateCache().needsFetch(now: Self.now))
    }

    @Test func freshCertificatesAreFetchedAgainAfterAnHour() throws {
        let cache = PlatformCertificateCache()
        cache.install(try Self.keys(expiringAt: Self.now / 1000 + 365 * 86_400), now: Self.now)
        #expect(!cache.needsFetch(now: Self.now + PlatformCertificateCache.refreshIntervalMs - 1))
        #expect(cache.needsFetch(now: Self.now + PlatformCertificateCache.refreshIntervalMs))
    }

    @Test func aCertificateExpiringSoonIsReplacedBeforeItExpires() throws {
        let cache = PlatformCertificateCache()
        let expiry = Self.now / 1000 + 1_800  // half an hour left
        cache.install(try Self.keys(expiringAt: expiry), now: Self.now)
        #expect(cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs))
        #expect(cache.needsFetch(now: expiry * 1000 - 1))
    }

    @Test func anUnknownSerialOrAFailedFetchTriesAgainWithinAMinute() throws {
        let cache = PlatformCertificateCache()
        cache.install(try Self.keys(expiringAt: Self.now / 1000 + 365 * 86_400), now: Self.now)
        cache.sawUnknownSerial(now: Self.now)
        #expect(!cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs - 1))
        #expect(cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs))
        cache.fetchFailed(now: Self.now + PlatformCertificateCache.retryAfterFailureMs)
        #expect(cache.keys != nil, "a failed fetch keeps the held certificates")
        #expect(!cache.needsFetch(now: Self.now + PlatformCertificateCache.retryAfterFailureMs + 1))
    }
}
