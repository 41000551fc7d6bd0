import Testing

@testable import WeChatPayV2

@Suite struct XMLTests {
    @Test func encodesCDATAAndSplitsTerminator() throws {
        let body = try XMLBodyEncoder.encode(["a": "x]]>y", "b": "<&>"])
        let text = String(decoding: body, as: UTF8.self)
        #expect(text == "<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a><b><![CDATA[<&>]]></b></xml>")
        #expect(try StrictXMLDecoder.decode(body) == ["a": "x]]>y", "b": "<&>"])
    }

    @Test func rejectsBadFieldNames() {
        #expect(throws: ProtocolError.self) { try XMLBodyEncoder.encode(["a b": "1"]) }
        #expect(throws: ProtocolError.self) { try XMLBodyEncoder.encode(["1a": "1"]) }
    }

    @Test func decodesTextEntitiesBOMAndDeclaration() throws {
        let doc =
            "\u{FEFF}<?xml version=\"1.0\"?>\n<xml>\n <return_code>SUCCESS</return_code>\n <msg>a&lt;b&amp;&#x4E2D;&#25991;</msg><empty/><e2></e2></xml>\n"
        #expect(try StrictXMLDecoder.decode(doc) == ["return_code": "SUCCESS", "msg": "a<b&中文", "empty": "", "e2": ""])
    }

    static let hostile: [(String, String)] = [
        ("doctype", "<!DOCTYPE xml><xml><a>1</a></xml>"),
        ("xxe", "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><a>&xxe;</a></xml>"),
        (
            "billion laughs",
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><xml><a>&lol2;</a></xml>"
        ),
        ("entity lower-case", "<xml><a>1</a></xml><!entity x \"y\">"),
    ]

    @Test(arguments: hostile) func rejectsHostileDocuments(_ testCase: (String, String)) {
        #expect {
            try StrictXMLDecoder.decode(testCase.1)
        } throws: { error in
            (error as? ProtocolError)?.isHostileXML == true
        }
    }

    static let malformed: [(String, String)] = [
        ("empty", ""),
        ("truncated in value", "<xml><return_code>SUCC"),
        ("truncated before root end", "<xml><return_code>SUCCESS</return_code>"),
        ("truncated in CDATA", "<xml><a><![CDATA[abc</a></xml>"),
        ("mismatched", "<xml><a>1</b></xml>"),
        ("duplicate field", "<xml><a>1</a><a>1</a></xml>"),
        ("nested", "<xml><a><b>1</b></a></xml>"),
        ("wrong root", "<root><a>1</a></root>"),
        ("two roots", "<xml><a>1</a></xml><xml></xml>"),
        ("attributes", "<xml><a x=\"1\">1</a></xml>"),
        ("undefined entity", "<xml><a>&nbsp;</a></xml>"),
        ("text at root", "<xml>hello<a>1</a></xml>"),
        ("comment", "<xml><!-- c --><a>1</a></xml>"),
        ("not xml", "{\"return_code\":\"SUCCESS\"}"),
        ("signed character reference", "<xml><a>&#+65;</a></xml>"),
        ("signed hex reference", "<xml><a>&#x+42;</a></xml>"),
        ("name starting with a digit", "<xml><1a>1</1a></xml>"),
        ("stylesheet instruction", "<?xml-stylesheet href=\"x\"?><xml><a>1</a></xml>"),
    ]

    @Test(arguments: malformed) func rejectsMalformedDocuments(_ testCase: (String, String)) {
        #expect {
            try StrictXMLDecoder.decode(testCase.1)
        } throws: { error in
            (error as? ProtocolError)?.isMalformedXML == true
        }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes = Array("<xml><a>".utf8) + [0xFF, 0xFE] + Array("</a></xml>".utf8)
        #expect(throws: ProtocolError.self) { try StrictXMLDecoder.decode(bytes) }
    }

    @Test func refusesOversizedBodies() {
        let big = "<xml><a>" + String(repeating: "x", count: StrictXMLDecoder.maximumSize) + "</a></xml>"
        #expect(throws: ProtocolError.self) { try StrictXMLDecoder.decode(big) }
    }
}
