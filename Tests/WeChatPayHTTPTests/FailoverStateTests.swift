import Testing

@testable import WeChatPayHTTP

@Suite struct FailoverStateTests {
    @Test func failsOverProbesAndReturns() {
        var state = FailoverState(hasBackup: true, probeIntervalMs: 30_000)
        let r1 = state.plan(now: 0)
        #expect(r1 == [.primary, .backup])
        let r2 = state.report(.primary, reachable: false, now: 0)
        #expect(r2 == .failedOver)
        let r3 = state.plan(now: 1)
        #expect(r3 == [.backup])
        let r4 = state.plan(now: 29_999)
        #expect(r4 == [.backup])
        let r5 = state.plan(now: 30_000)
        #expect(r5 == [.primary, .backup])  // one probe…
        let r6 = state.plan(now: 30_001)
        #expect(r6 == [.backup])  // …at a time
        let r7 = state.report(.primary, reachable: false, now: 30_002)
        #expect(r7 == nil)
        let r8 = state.report(.primary, reachable: true, now: 60_000)
        #expect(r8 == .returnedToPrimary)
        let r9 = state.plan(now: 60_001)
        #expect(r9 == [.primary, .backup])
    }

    @Test func withoutBackupOnlyThePrimaryIsUsed() {
        var state = FailoverState(hasBackup: false, probeIntervalMs: 30_000)
        let r10 = state.report(.primary, reachable: false, now: 0)
        #expect(r10 == nil)
        let r11 = state.plan(now: 1)
        #expect(r11 == [.primary])
    }

    /// Issue 10, defect 7: only a failure that kept the request on this machine moves a call on.
    @Test func aCallMovesToTheNextEndpointOnlyWhenNothingCanHaveBeenSent() {
        #expect(FailoverState.triesNextEndpoint(unreachable: true, mayHaveBeenSent: false))  // DNS, connect, TLS
        #expect(!FailoverState.triesNextEndpoint(unreachable: true, mayHaveBeenSent: true))  // timeout after sending
        #expect(!FailoverState.triesNextEndpoint(unreachable: false, mayHaveBeenSent: true))  // reset, cancelled
        #expect(!FailoverState.triesNextEndpoint(unreachable: false, mayHaveBeenSent: false))
    }

    @Test func settingsAllowPlainHTTPOnlyOnLoopback() {
        var settings = GatewaySettings()
        #expect(settings.validate().isEmpty)
        settings.primaryURL = "http://127.0.0.1:8080"
        settings.backupURL = "http://localhost:8081"
        #expect(settings.validate().isEmpty)
        settings.primaryURL = "http://api.mch.weixin.qq.com"
        #expect(settings.validate() == ["primary_url: http:// is allowed only for loopback hosts (the fake); use https://"])
        settings.primaryURL = "ftp://x"
        settings.totalTimeoutMs = 1
        #expect(settings.validate().count == 2)
    }
}
