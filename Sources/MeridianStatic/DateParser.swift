internal import MeridianCore

/// HTTP dates for conditionals; shares the parser and formatter with the `Date` header.
enum DateParser {
    static func parse(_ text: String) -> Int? { DateCache.parse(text) }
}
