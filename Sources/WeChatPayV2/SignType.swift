/// The two v2 signature algorithms. The request's choice is sent as `sign_type` (and signed);
/// responses carry no `sign_type`, so they are verified with the request's.
public enum SignType: String, Sendable, Hashable, CaseIterable, Codable {
    case md5 = "MD5"
    case hmacSHA256 = "HMAC-SHA256"
}
