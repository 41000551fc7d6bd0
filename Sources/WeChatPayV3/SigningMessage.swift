/// The two messages v3 signs, each line ended by `\n` (an empty body still gives its line).
///
/// | who signs              | message                                             |
/// |------------------------|-----------------------------------------------------|
/// | the merchant (request) | `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`       |
/// | WeChat Pay (answer)    | `TIMESTAMP\nNONCE\nBODY\n`                           |
///
/// The messages are what the signature covers: they are never logged.
public enum SigningMessage {
    public static func request(method: String, canonicalURL: String, timestamp: Int64, nonce: String, body: [UInt8]) -> [UInt8] {
        var message: [UInt8] = []
        message.reserveCapacity(method.utf8.count + canonicalURL.utf8.count + nonce.utf8.count + body.count + 20)
        message += method.utf8
        message.append(0x0A)
        message += canonicalURL.utf8
        message.append(0x0A)
        message += String(timestamp).utf8
        message.append(0x0A)
        message += nonce.utf8
        message.append(0x0A)
        message += body
        message.append(0x0A)
        return message
    }

    public static func answer(timestamp: String, nonce: String, body: [UInt8]) -> [UInt8] {
        var message: [UInt8] = []
        message.reserveCapacity(timestamp.utf8.count + nonce.utf8.count + body.count + 3)
        message += timestamp.utf8
        message.append(0x0A)
        message += nonce.utf8
        message.append(0x0A)
        message += body
        message.append(0x0A)
        return message
    }
}
