/// The content codings a client accepts, read from its `Accept-Encoding` field (RFC 9110 §12.5.3).
///
/// Weights are kept in thousandths (0...1000), the resolution of a qvalue (RFC 9110 §12.4.2), so comparing them
/// needs no floating point. Parsing never fails: a list member that is not a token, or whose `q` is not a valid
/// qvalue (`q=2`, `q=0.1234`, `q=abc`), is ignored and the rest of the field still counts. A coding named twice
/// keeps its first weight.
///
/// A request without the field is treated like one with an empty field: identity only. RFC 9110 §12.5.3 lets a
/// server apply any coding when the field is absent, but clients that send no `Accept-Encoding` are mostly scripts
/// and old tools that would then be handed bytes they cannot read; nginx and Caddy do not compress for them either.
public struct AcceptEncoding: Sendable, Hashable {
    /// Weights of the codings the field names, in thousandths.
    private var listed: [ContentCoding: Int] = [:]
    /// The weight of `*`, which covers every coding the field does not name, identity included.
    private var wildcard: Int?

    /// The field of a request that did not send one: identity only.
    public static let absent = AcceptEncoding(fieldValues: [])

    /// Reads one field value; `nil` means the request had no `Accept-Encoding` field.
    public init(_ fieldValue: String?) {
        self.init(fieldValues: fieldValue.map { [$0] } ?? [])
    }

    /// Reads every `Accept-Encoding` field line of a request, in order: several lines mean the same as one line
    /// with their values joined by commas (RFC 9110 §5.3). No lines means the request had no field.
    public init(fieldValues: [String]) {
        for value in fieldValues {
            for member in value.split(separator: ",") {
                parse(member: member)
            }
        }
    }

    /// The weight of `coding` in thousandths, 0 meaning "not acceptable".
    ///
    /// Identity that the field neither names nor excludes through `*;q=0` is acceptable by default
    /// (RFC 9110 §12.5.3) and reports 1, the least weight, so that any coding the client lists wins over it.
    public func weight(of coding: ContentCoding) -> Int {
        if let weight = listed[coding] { return weight }
        if let wildcard { return wildcard }
        return coding == .identity ? 1 : 0
    }

    /// Whether the client accepts `coding` at all.
    public func accepts(_ coding: ContentCoding) -> Bool {
        weight(of: coding) > 0
    }

    /// The coding to send, among those the server can produce: the one with the highest weight, and at equal
    /// weight brotli, then gzip, then identity.
    ///
    /// Identity is always a candidate, listed in `available` or not, because the server can always send the bytes
    /// as they are. The answer is nil only when the client excludes identity as well (`identity;q=0`, or `*;q=0`
    /// without an `identity` entry) and accepts nothing the server has. Even then the caller sends the
    /// representation unencoded rather than 406 (Not Acceptable): RFC 9110 §12.5.3 allows either, and an
    /// uncompressed response that the client may still be able to use serves it better than an error page.
    public func negotiate(available: [ContentCoding]) -> ContentCoding? {
        var best: ContentCoding?
        var bestWeight = 0
        func consider(_ coding: ContentCoding) {
            let weight = weight(of: coding)
            guard weight > 0 else { return }
            if weight > bestWeight || (weight == bestWeight && coding.preference < best!.preference) {
                best = coding
                bestWeight = weight
            }
        }
        for coding in available {
            consider(coding)
        }
        consider(.identity)
        return best
    }

    // MARK: - Parsing

    /// Reads one list member, `codings [ OWS ";" OWS "q=" qvalue ]`, and records it unless it is malformed.
    ///
    /// Parameters other than `q` are not in the grammar; they are skipped rather than voiding the member.
    private mutating func parse(member: Substring) {
        var parts = member.split(separator: ";", omittingEmptySubsequences: false).makeIterator()
        guard let name = parts.next()?.trimmingOWS, !name.isEmpty, Self.isToken(name) else { return }
        var weight = 1000
        var sawWeight = false
        while let parameter = parts.next()?.trimmingOWS {
            guard let equals = parameter.firstIndex(of: "=") else { continue }
            let key = parameter[..<equals].trimmingOWS
            guard !sawWeight, key == "q" || key == "Q" else { continue }
            guard let value = Self.qvalue(parameter[parameter.index(after: equals)...].trimmingOWS) else {
                return  // a weight that is not a qvalue: the whole member is malformed
            }
            weight = value
            sawWeight = true
        }
        if name == "*" {
            if wildcard == nil { wildcard = weight }
        } else if let coding = ContentCoding(token: name), listed[coding] == nil {
            listed[coding] = weight
        }
    }

    /// A qvalue in thousandths: `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2).
    static func qvalue(_ text: Substring) -> Int? {
        var bytes = text.utf8.makeIterator()
        guard let first = bytes.next(), first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        guard let dot = bytes.next() else { return value }
        guard dot == UInt8(ascii: ".") else { return nil }
        var scale = 100
        while let digit = bytes.next() {
            guard scale > 0, digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value += Int(digit - UInt8(ascii: "0")) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }

    /// Whether `text` is a `token` (RFC 9110 §5.6.2).
    private static func isToken(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }
}
