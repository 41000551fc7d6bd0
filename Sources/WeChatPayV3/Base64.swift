import Foundation

/// Standard base64 (with padding), as v3 uses it for signatures and ciphertexts.
func base64Decode(_ text: String) -> [UInt8]? {
    Data(base64Encoded: text).map(Array.init)
}

func base64Encode(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
}
