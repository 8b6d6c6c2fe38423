/// Parsing of the human units the configuration accepts for durations and sizes.
enum ConfigUnits {
    /// `250ms`, `10s`, `5m`, `1h`, or a bare number of seconds. `0` disables a timeout where the key allows it.
    static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "ms" must not be read as "m" + "s": the loop tries "ms" first and a number never ends in "m".
            guard let value = Double(number), value >= 0, value.isFinite else { return nil }
            return .milliseconds(Int64((value * factor * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// `512`, `16k`/`16KiB`/`16kb`, `10m`/`10MiB`, `1g`/`1GiB` (binary multiples).
    static func parseSize(_ text: String) -> Int? {
        let lowered = text.trimmingSpaces().lowercased()
        let units: [(String, Int)] = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30),
            ("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30),
            ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1),
        ]
        for (suffix, factor) in units where lowered.hasSuffix(suffix) {
            guard let value = Int(lowered.dropLast(suffix.count)), value >= 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        guard let value = Int(lowered), value >= 0 else { return nil }
        return value
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
