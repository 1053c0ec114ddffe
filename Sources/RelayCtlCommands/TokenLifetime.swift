import ArgumentParser

/// A token lifetime on the command line: a positive whole number followed
/// by `s`, `m`, `h` or `d` (`3600s`, `90m`, `12h`, `30d`); a bare number is
/// seconds. At most ten years.
public struct TokenLifetime: Hashable, Sendable, ExpressibleByArgument, CustomStringConvertible {
    /// The lifetime in seconds.
    public let seconds: Int64

    /// The longest lifetime accepted.
    public static let maximumSeconds: Int64 = 10 * 366 * 86_400

    /// A lifetime of `seconds`.
    public init(seconds: Int64) {
        self.seconds = seconds
    }

    /// Parses `argument`, e.g. `30d`; nil if it is not a lifetime.
    public init?(argument: String) {
        var digits = Substring(argument)
        var unit: Int64 = 1
        switch argument.last {
        case "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3_600
        case "d": unit = 86_400
        default: unit = 0
        }
        if unit != 0 { digits = digits.dropLast() } else { unit = 1 }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let value = Int64(digits), value > 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow, product <= Self.maximumSeconds else { return nil }
        self.seconds = product
    }

    /// The lifetime as a `Duration`.
    public var duration: Duration { .seconds(seconds) }

    /// The lifetime in the largest unit that divides it, e.g. `30d`.
    public var description: String {
        for (unit, suffix) in [(Int64(86_400), "d"), (3_600, "h"), (60, "m")] where seconds % unit == 0 {
            return "\(seconds / unit)\(suffix)"
        }
        return "\(seconds)s"
    }

    /// Shown as the default in `--help`.
    public var defaultValueDescription: String { description }
}
