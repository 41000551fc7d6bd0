/// Times as people read them: ISO-8601 in UTC and a relative form ("in 52 s", "3 min ago").
/// Written here rather than with Foundation's formatters so that the domain module stays free of
/// Foundation; the civil-date conversion is the standard days-from-epoch algorithm.
public enum TimeText {
    /// `2026-11-30T09:27:30.123Z` for unix ms.
    public static func iso8601(_ unixMs: Int64) -> String {
        let seconds = unixMs.floorDivided(by: 1000)
        let millis = unixMs - seconds * 1000
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(daysSinceEpoch: days)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return
            "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)).\(ms)Z"
    }

    /// "in 52 s", "3 min ago", "now"; whole units, the largest that fits.
    ///
    /// | distance     | shown as   |
    /// |--------------|------------|
    /// | < 1 s        | now        |
    /// | < 2 min      | N s        |
    /// | < 2 h        | N min      |
    /// | < 2 days     | N h        |
    /// | otherwise    | N days     |
    public static func relative(_ unixMs: Int64, now: Int64) -> String {
        let distance = unixMs - now
        let magnitude = abs(distance) / 1000
        guard magnitude >= 1 else { return "now" }
        let amount: String
        switch magnitude {
        case ..<120: amount = "\(magnitude) s"
        case ..<7_200: amount = "\(magnitude / 60) min"
        case ..<172_800: amount = "\(magnitude / 3600) h"
        default: amount = "\(magnitude / 86_400) days"
        }
        return distance > 0 ? "in \(amount)" : "\(amount) ago"
    }

    /// A length of time in the same units: `30 s`, `4 min`; under a second is `< 1 s`.
    public static func duration(_ ms: Int64) -> String {
        ms < 1000 ? "< 1 s" : String(relative(ms, now: 0).dropFirst(3))
    }

    /// Both: `2026-11-30T09:28:22.000Z (in 52 s)`.
    public static func both(_ unixMs: Int64, now: Int64) -> String {
        "\(iso8601(unixMs)) (\(relative(unixMs, now: now)))"
    }

    static func civil(daysSinceEpoch z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
