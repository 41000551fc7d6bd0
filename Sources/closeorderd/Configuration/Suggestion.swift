/// "Did you mean …?" for a mistyped config key or environment variable.
enum Suggestion {
    /// The known name closest to `name`: within a few edits (a swap of two letters counts as
    /// one), else, for a dotted key, the one known key with the same last part (a key put in the
    /// wrong section).
    ///
    /// | length of `name` | edits allowed |
    /// |---|---|
    /// | up to 7 | 1 |
    /// | 8–11 | 2 |
    /// | 12 or more | 3 |
    static func nearest(to name: String, among known: some Collection<String>) -> String? {
        let allowed = name.count < 8 ? 1 : name.count < 12 ? 2 : 3
        let scored = known.map { ($0, distance(name, $0)) }.filter { $0.1 <= allowed }
        if let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) { return best.0 }
        guard let tail = lastPart(name) else { return nil }
        let sameTail = known.filter { lastPart($0) == tail }
        return sameTail.count == 1 ? sameTail.first : nil
    }

    /// The message suffix: ` (did you mean X?)`, or nothing.
    static func phrase(for name: String, among known: some Collection<String>) -> String {
        nearest(to: name, among: known).map { " (did you mean \($0)?)" } ?? ""
    }

    /// What follows the last `.` of a dotted key; nil for a name without dots.
    static func lastPart(_ name: String) -> Substring? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        return name[name.index(after: dot)...]
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent swaps), case-insensitive.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased())
        let b = Array(b.lowercased())
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
