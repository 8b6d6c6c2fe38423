/// The elements of an HTTP list-based field value, trimmed, with empty elements skipped.
///
/// RFC 9110 §5.6.1 says a recipient must accept empty list elements and optional whitespace
/// around commas (`a ,  b,,c`). Iterating lazily over substrings keeps `Vary` merging and
/// `Access-Control-Request-Headers` parsing free of array allocations.
package struct CommaSeparatedList: Sequence, IteratorProtocol {
    private var rest: Substring

    package init<S: StringProtocol>(_ value: S) {
        self.rest = Substring(value)
    }

    package mutating func next() -> Substring? {
        while !rest.isEmpty {
            let element: Substring
            if let comma = rest.utf8.firstIndex(of: UInt8(ascii: ",")) {
                element = rest[..<comma]
                rest = rest[rest.utf8.index(after: comma)...]
            } else {
                element = rest
                rest = rest[rest.endIndex...]
            }
            let trimmed = HTTPSyntax.trimmed(element)
            if !trimmed.isEmpty {
                return trimmed
            }
        }
        return nil
    }
}
