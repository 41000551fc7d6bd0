#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `nonce_str`: 32 alphanumerics, fresh for every attempt (every attempt is re-signed).
public enum Nonce {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
    static let length = 32
    /// Random bytes drawn per fill: 32 are needed and 1 in 32 is rejected, so a refill is rare.
    static let batch = 48

    /// A nonce from the system CSPRNG, in one `getentropy(3)` call (`getrandom(2)` on Linux)
    /// rather than one syscall per 8 bytes through `SystemRandomNumberGenerator`.
    public static func make() -> String {
        make { buffer in
            #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
                if getentropy(buffer.baseAddress, buffer.count) == 0 { return }
            #endif
            // No getentropy (or it failed): the standard generator, which traps rather than
            // hand out predictable bytes.
            var generator = SystemRandomNumberGenerator()
            fill(buffer, from: &generator)
        }
    }

    /// A nonce from `generator`; tests pass a seeded one.
    public static func make<G: RandomNumberGenerator>(using generator: inout G) -> String {
        make { buffer in fill(buffer, from: &generator) }
    }

    /// Maps random bytes to the alphabet by rejection: bytes below 248 (4 × 62, the largest
    /// multiple of 62 that fits a byte) are taken modulo 62, the rest are dropped, so every
    /// character is equally likely.
    static func make(filling fill: (UnsafeMutableRawBufferPointer) -> Void) -> String {
        withUnsafeTemporaryAllocation(byteCount: batch, alignment: 8) { random in
            alphabet.withUnsafeBufferPointer { alphabet in
                String(unsafeUninitializedCapacity: length) { out in
                    var count = 0
                    while count < length {
                        fill(random)
                        for byte in random where byte < 248 {
                            out[count] = alphabet[Int(byte % 62)]
                            count += 1
                            if count == length { break }
                        }
                    }
                    return length
                }
            }
        }
    }

    static func fill<G: RandomNumberGenerator>(_ buffer: UnsafeMutableRawBufferPointer, from generator: inout G) {
        var word: UInt64 = 0
        for offset in 0..<buffer.count {
            if offset % 8 == 0 { word = generator.next() }
            buffer[offset] = UInt8(truncatingIfNeeded: word)
            word >>= 8
        }
    }
}
