/// `nonce_str`: 32 alphanumerics, fresh for every attempt (every attempt is re-signed).
public enum Nonce {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// A nonce from the system CSPRNG (`getrandom(2)` on Linux).
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }

    /// A nonce from `generator`; tests pass a seeded one. Uniform: `randomElement` rejects bias.
    public static func make<G: RandomNumberGenerator>(using generator: inout G) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for _ in 0..<32 { out.append(alphabet.randomElement(using: &generator)!) }
        return String(decoding: out, as: UTF8.self)
    }
}
