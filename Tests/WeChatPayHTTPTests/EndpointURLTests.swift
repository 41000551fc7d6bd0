import Testing

@testable import WeChatPayHTTP

/// Issue 10 defect 9: endpoint URLs are parsed, and `http://` is for loopback alone.
@Suite struct EndpointURLTests {
    static func problems(_ url: String) -> [String] {
        var settings = GatewaySettings()
        settings.primaryURL = url
        settings.backupURL = nil
        return settings.validate()
    }

    @Test(arguments: [
        "https://api.mch.weixin.qq.com", "https://api2.mch.weixin.qq.com/", "https://api.mch.weixin.qq.com:443",
        "http://127.0.0.1:18080", "http://127.255.0.9", "http://localhost:18080/", "http://LOCALHOST:1", "http://[::1]:18080",
        "http://[0:0:0:0:0:0:0:1]:18080",
    ])
    func accepted(_ url: String) {
        #expect(Self.problems(url).isEmpty, "\(url)")
    }

    @Test(arguments: [
        ("http://127.evil.example", "loopback"), ("http://127.0.0.1.nip.io", "loopback"),
        ("http://localhost.evil.example", "loopback"),
        ("http://128.0.0.1", "loopback"), ("http://127.1", "loopback"), ("http://[::2]", "loopback"),
        ("http://[::ffff:10.0.0.1]", "loopback"),
        ("http://api.mch.weixin.qq.com", "loopback"), ("http://127.0.0.1:18080?x=", "query"),
        ("http://127.0.0.1:18080?", "query"),
        ("http://127.0.0.1#frag", "fragment"), ("https://user@api.mch.weixin.qq.com", "user name"),
        ("https://u:p@api.mch.weixin.qq.com", "user name"), ("https://api.mch.weixin.qq.com/pay/", "path"),
        ("ftp://127.0.0.1", "scheme"), ("api.mch.weixin.qq.com", "absolute"),
    ])
    func refused(_ url: String, _ why: String) {
        let problems = Self.problems(url)
        #expect(problems.count == 1 && problems[0].hasPrefix("primary_url: ") && problems[0].contains(why), "\(url): \(problems)")
        #expect(!problems.joined().contains(":p@"), "a password is never echoed")
    }
}
