import GatewayVocabulary
import PropertyBased
import Testing

@testable import WeChatPayV2

@Suite struct PropertyTests {
    /// Characters that stress the encoder: XML specials, the CDATA terminator's parts, CJK, whitespace.
    static let valueCharacters: [Character] = Array("abcXYZ019 _-<>&]'\"\n\t中文é😀[!?=;#")
    static let names = Gen.letter.string(of: 1...10)
    static let character = Gen.int(in: 0..<valueCharacters.count).map { valueCharacters[$0] }
    static let values = character.string(of: 0...24)
    static let fieldMaps = zip(names, values).dictionary(ofAtMost: 0...12)
    static let key = try! APIKey("192006250b4c09247ec02edce69f6a2d")

    @Test func encodeThenDecodeIsTheIdentity() async {
        await propertyCheck(count: 300, input: Self.fieldMaps) { fields in
            let decoded = try StrictXMLDecoder.decode(XMLBodyEncoder.encode(fields))
            #expect(decoded == fields)
        }
    }

    @Test(arguments: SignType.allCases) func signatureHoldsAndAnyOneCharacterChangeBreaksIt(_ signType: SignType) async {
        let nonEmpty = Self.fieldMaps.filter { $0.values.contains { !$0.isEmpty } }
        await propertyCheck(count: 300, input: nonEmpty, Gen.int(in: 0...10_000), Self.character) { fields, pick, replacement in
            var signed = fields
            signed["sign"] = Signer.sign(fields, type: signType, key: Self.key)
            #expect(Signer.isValid(sign: signed["sign"]!, for: signed, type: signType, key: Self.key))

            // Change one character of one signed field (or of the sign itself).
            let candidates = signed.keys.filter { !signed[$0]!.isEmpty }.sorted()
            let name = candidates[pick % candidates.count]
            var characters = Array(signed[name]!)
            let position = pick % characters.count
            guard replacement != characters[position] else { return }
            characters[position] = replacement
            var tampered = signed
            tampered[name] = String(characters)
            #expect(
                !Signer.isValid(sign: tampered["sign"]!, for: tampered, type: signType, key: Self.key),
                "changing \(name) went unnoticed")
        }
    }
}
