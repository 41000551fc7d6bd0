import WeChatPayV3

/// Fixed RSA-2048 key pairs for tests and the demo's fake: published test data, never a real
/// merchant's or WeChat Pay's. Parsing a PEM costs microseconds where generating a key costs a
/// fraction of a second of CPU (more in a debug build), and a test run that generated a key per
/// fake held Swift's two cooperative threads long enough to starve unrelated tests.
public enum FakeV3Keys {
    /// The fake's own WeChat Pay key (its public key, `PUB_KEY_ID_…`, and platform certificate).
    public static let weChatPay = key(weChatPayPEM)
    /// A merchant's API private key, for tests.
    public static let merchant = key(merchantPEM)
    /// A third key, for "signed by someone else" tests.
    public static let stranger = key(strangerPEM)

    static func key(_ pem: String) -> MerchantPrivateKey {
        // Fixed, well-formed test keys: parsing cannot fail.
        try! MerchantPrivateKey(pem: pem)
    }

    static let weChatPayPEM = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCOcKJyHHwW2Gk4
        dznFfWuMTikpGaardIDljiyf1yWA7fBMJWldthhzUnAifwwMNATx8vHP9DffZszl
        G6yRByif0+x64FF6G0uSjBOvlA9wzsyVftR35PcIbwtYPecyODyoq5g9OafrcS6o
        GSuU3GRujNvv+OsGPjWF0tSI4Hnqrk5OU46WaEzdaYtnLR5dxCxtKAlPRbznStOZ
        oaQXT1kEK8i8Phkz5HFWPQWt4jyQmmKLzQzO95C3W7vVmkkQX5ABSHBdnIbGtUQ0
        y3pK92AQGxNJP4EkN6jI6buwzKkpzFpgHWpTH7pCPyfF7tezh7TiVqktmrKT4B9e
        Hc/GpHQJAgMBAAECggEAEPgTKjQBhnk2o870V3Y3G0pudeKD7BYfivlykIJBiggO
        ogus70iTxh1SlZF8HnIOCsLuEt+dzmQBUeQHnWl0agIFwKe7nSfmS2mbqMWjR0Wj
        ssWeyz/APEV6XQNW6TEw7MkwhE67lf1wWP9SpVPSNSdbxk1ptl8v4ib5Qes4KwB2
        ego1BJd7osyQ7CNty6il+nbPVhY7/B+Uo6KCdrjvJ0/nOT30HLxjC7eMg6mm1XBO
        1+2gV317j0ERGdnZoCAR0uc4B4oQpXtLrNhLkdmtarj8ckyXJnmtwwUzSDRDBPbd
        k+PwPwz0RuUV3vlM1gZHOss+GlKwoP/5QrRhjfkUXwKBgQDDXfU0tAXpGTqjijkG
        udhy7d12TviC+QDjYRi7CQGSUhN7FEF9PNNzf3GN4KFOtwLYlTGOp+kHhQ+ZQlYu
        KraPmMuPoOcqmYuicRKwdHG2YJq5K38/b0kCovtBqz8JCrUyaqBoV0iETLTAC3+7
        aqfGrbScrkyf9A6tEfdpXnfX+wKBgQC6pZZWHsPljWLedlyTnNLmGlt7xgiH8MMi
        XVG09oTM1eYNlO44Oy9+Esd1y3Hd5SlsnAMt2Tizb/P0LnlrtNS6NTRVnxSbITaD
        SFZ9Zu7fuZ61hcXZTfKXoeyha7jmTIHI1GdYnNP4ZxwcWC0czHQDe7huQWf6RbG7
        IeFe5y2QywKBgQCvjJkOX4lEGJh5ZXWyloJpW1X5viJORgNHTfNT9VbFLR02JlBm
        gaabjPPzgdpQieBzzzP1tOmPCUCn/VTFLTpYM/sON44g2FIBiEs75ZZcQ9gj9XLl
        BFF9ngfZzU/aBxYklG1I9M1DnE16l5qSRNc3jtTRSUmvHTWmzJMdynYzywKBgCTa
        RRDEClHs1LSwEh9jO5ELazzJIS4WL7E9U8CzXA1FvqK34UFhDkOKWa+8d8MkWEWF
        mGsZFMT5OeXgt0C497e8gZTWUC9BI45QXiNsi4XJFLkqrKH3bgrageptZpiySn3o
        0m8AqCnH0hkWn/GrvMxjRUsfxvP3htw4GFOwuaJ5AoGANNbknTsfDunSQ6yKsQXa
        SE7Pj6hq58aeEesV/bbRtqJy3Mp7ExXDfRvdT5B9550q2JpIqAi4mTzgohI42UG9
        jwmDy4RV9hRQ3cU7o+2lnxbiwD14RFx6NLlqYcdHpq51N3aga4UuCMbOqG33II8L
        jdMTLaB4EMSDpkNUe5DJQO4=
        -----END PRIVATE KEY-----
        """
    static let merchantPEM = """
        -----BEGIN PRIVATE KEY-----
        MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCywETUE3g8kj1v
        id0JWEEAu7uTc9g3gSGlBma4D5w2EOwDbL++ATPGTygyb9dQ0s+CpsgJ37Gmmf3M
        aeYUYtzJdWPgmaKbrMs2eqsarsUwAfRniGwHOyDT6Lm3uGuo8RjTk6iphQit2UQm
        MBPzEdoSg6T37lloEbYSjwcdSPqXxXggpg6GNRNEETi0b+ftqAZenLDBOXBRfp5W
        GvLPDzgp8IcFjW4zZ61Ng6qV2TdsTuyoBqeZIv2WgxkdvCyneORGqZSkw7p0zS7o
        AsJO3yaOi3EfCuHKUdI0qOvm+LDWnfv6lWvjY5HbTpVjtBCxpQ0PNCawmhLZEWJ6
        iiMH+KoLAgMBAAECggEAFUPLTGF+kdIh7eV8PrLZlNFAmOOUqtG5Y2z2BlqRDluI
        AEZNLzjsZGChWxK0DkDt/9CAhrAuba/vIgTNIsq6EltdROhyEEwHptUECvoUqkfp
        P/HaTCfsGVmb0m/lmuUHu4/a5kPVyvzIXzSkAuwyQbaYhwg7aaaFvwJ16bV3Xluk
        FhD6AVaFj6k4EPzAM7hdPAM+F2Pm6jAtV8HsrvhO9FwIc+1cINu7IG308FzcSVh3
        VnFG7Mpbzh22nm3rzdt9G3sDFditYxr07RsAW77giTweawExbHULSnSTC41saCzf
        lyLMw5FceS7zyNC3uOPVEsT+9xcCbY9L2UgxEQ44CQKBgQDjwKSU+eHlujpP4Wtr
        qr8uhPMT0TIZFX0bauq6rckCAS2C4MdlBie4XfOQL5kOwabYf817hJbAjCIbPq/p
        wNgVS+j+rzBDtkH7z2qjpVog+mYSe6qx6TRVvr5TcO8QFhm6qq4H4A49AVNJHGOr
        ws8+TK+IX0Oxm7lcvDNSPlrdCQKBgQDI68iJP93+AN/ds+mBST6cPez8z+qAW4qI
        KHdw2zh0wQ1UGUmSb/WRq2kdlyHppiZbaaCbiYwBZWn7F45YzyyW3XWWgXZEASvt
        VeZmcsaJB+sAAMFqH8hFQ7ttffOyAPJTmd5uEKCjQrZLtipvfGcOOh4/MPI/iC82
        Ew1/22MncwKBgCKyNmB7sO5OcJO6w6KjYHy1xFJAjGFF5MlIgHnv/69OfqBxne7G
        AUcVCQXuOmMFHWXeEm++wziSIKAF7MavmjukVNp31eJ64ZJ7BsPnbNOZUfN+44I3
        BMILTPNpQQIyW7kUR27rsz+X9BgvOv/vraLQC+26lZV5I8P859SfqzgBAoGAJmej
        UlDJ7xZdtDQCizrj49uWZBCeA2D8DuClTAYrOW35TTz0KjCKYQjBs+1ChzXCGTEM
        iQ52m4G2C0/KXsFjBYdZRaaDY6ZRrjEANE72EhVYXwzF67IdhtfWiKxNm5XAvCgq
        MyGsguhqjfhJDjxaOobzZyLE+03dsFld+DWIM28CgYA1Js0Of6N5xqgX3ikM0hL+
        VrtRXZloAP80E1xA/PL2AmGygU2Z4iP7DDDMOw2wdBaGxl9w1GD6UCnV82IJU/o3
        Jt7LVfbjnUJoNlb1Z0lfzYj0gCJc3Y3axzgeoW0tahxFUTHao7cJwAU1ltK0I34a
        h+0lXkD/ftBz08MdwzDyLQ==
        -----END PRIVATE KEY-----
        """
    static let strangerPEM = """
        -----BEGIN PRIVATE KEY-----
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDJ8GKIOUb2hK4L
        Q0v+05SL/siuLfZWo4WYZomTcvXU+OaF2hgVmFF3T3ZWyxJd7OrjuCAIzw3UrrdS
        Yz5mxhIYBn79bOF6m85C8cs0O9leIPDXp+5SwgBE3YNWTDRy+TmX0+1YtUteYGAB
        kLwNoV/PPRhgZK8YzqbpwxQg4HQKtqwQO3UZg/qv6HiroiNiDtiWxQcifK9nRlxT
        RB5isT4ljK3cuM1koWA4ryIwZE1gQdDpbYLvuJJzGDaHZ1ESshFh9O/Bp1o+BtfK
        hx+CZSGerazQFzXEpF0FWtKnaTSIBEJtnXoMlyweKthsjsBzgnptt9RUaJETrSIT
        NNMbYfYXAgMBAAECggEAPBVxg72jDxs4G7LIzEfQxXyn4idbybh6ufccTQph+Z2b
        HU1gaCB7cMfsWnOugdLJqrqwkV5l65eWhQVxXivl208nfqjkR9JO4x1FTEPYb4jW
        kBvvraD6aoMMHmOrIWBlEfclAgVjKO/88MpLIbUXqDYx6BBdBsEJ6bi45vVRoZPj
        tfYbYJUcQKQXVU3O8exOWYNOiZ7IXA3UkFHZHTam76CDC1PxnQpbx1+hHZXoHCeK
        H5wJyxq7TEW3RdIEt2cLfqSo6SgO3yMk7L45JSuddTaDWWLEbZAdlD2bP3nN1P4O
        wNu99eBYG9l7WYn2X+gUiKefDFi4oSgXcg0Lpbt09QKBgQD4bLFFIgLMjXd4+Csu
        JcDiCjb8y1k/qLdKGOVs23bq9pSSd3C5nC+ifMeCtmCtlxnA1KWqeUnbWq8vezDK
        4Lfc+Dt+SYoV4bkQAjTDRDd3zF//PujLKbTmGZsuIAgc2N69+3Q56CRYC2piFn+3
        09HkIotjKHc6YGt5TfRaUUwgDQKBgQDQGM5rJCeqWNC4KI5oqJ5HqNhEvLJVmdyy
        35muTesSkVQx5mn+4e8JJ4ilCKLCW+YYRXxEDJVSK21BG7NqYHtWovnWiP3RNtCo
        c+WNbH4RQ3ccYUEI/yopDrHAulSYvzlRjDVOEErQFGKXLvo+6yjpNDCnVybbhEeX
        jp/E8cWBswKBgGN89Alhs4lD5mLV0EUs7XAY8yiOL3HlGXJdQhQ0WA2FLr7xgn1y
        5UjHfAcHDvS2HKQzBR2ecUudp6b2SPYWxMuDxh+vR9O3kCuvFn5U5XneqVtJUGV8
        kGvOOW1hep5C5AFloIhIRbXU7IfXxtJRzC72/qd5XzZLwv7Tj1ZUVI5JAoGBALVv
        K2oW186aKUCne6KcgYQRHp6vtv0TbW03rxJeNTq3IyVus7Pa4UKmCWl6og27el5n
        FvVt0zMVUeiWclOpU2AyMIpwXnxuwnZctiQcF76Nh+hikwV5FBVADpLu4pta/mqv
        SDqL0e6iF2OhPeZlugG500HTprl2F8V4QKzB72YpAoGBAIbNjO7vNe6QRFQcw9O1
        AyMFN5QkHD9pbqO0LP79wjgSO3W3aHaavMWmv7VAHnqBVnuNfnbTSYqpca0flGtv
        x+FlfJ8/LYcRBbSbxga3ARmm2JLz97xLGXLFnpiQQE7PL6xtVcpmG50taxEIVpMi
        H3b21OuY844lokEvBFewpCyF
        -----END PRIVATE KEY-----
        """
}
