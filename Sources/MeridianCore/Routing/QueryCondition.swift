internal import Foundation

extension Router {
    /// A query parameter a request must carry for a route to match: present, equal to a value, or
    /// matching a regular expression, so an API's versions or tenants can go to different places.
    /// Names and values are compared after percent-decoding (`+` is a space, as HTML forms send).
    public struct QueryCondition: Sendable {
        public enum Test: Sendable {
            case present
            case equals(String)
            case regex(RoutePattern.Regex)
        }
        public var name: String
        public var test: Test

        public init(name: String, test: Test) {
            self.name = name
            self.test = test
        }

        /// A regex condition; throws when the expression does not compile.
        public static func regex(_ name: String, _ pattern: String) throws -> QueryCondition {
            QueryCondition(name: name, test: .regex(RoutePattern.Regex(expression: try NSRegularExpression(pattern: pattern))))
        }

        /// Whether one of the query's values for `name` passes.
        func matches(_ query: Substring?) -> Bool {
            guard let query else { return false }
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard Self.decode(kv[0]) == name else { continue }
                let value = kv.count == 2 ? Self.decode(kv[1]) : ""
                switch test {
                case .present: return true
                case .equals(let expected): if value == expected { return true }
                case .regex(let r):
                    let range = NSRange(value.startIndex..., in: value)
                    if r.expression.firstMatch(in: value, range: range) != nil { return true }
                }
            }
            return false
        }

        /// `application/x-www-form-urlencoded` decoding; an invalid escape stays as written.
        static func decode(_ text: Substring) -> String {
            guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(text) }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.utf8.count)
            var i = text.utf8.startIndex
            let utf8 = text.utf8
            while i < utf8.endIndex {
                let b = utf8[i]
                if b == UInt8(ascii: "+") {
                    bytes.append(0x20)
                } else if b == UInt8(ascii: "%"), let h1 = utf8.index(i, offsetBy: 1, limitedBy: utf8.endIndex), h1 < utf8.endIndex,
                    let h2 = utf8.index(h1, offsetBy: 1, limitedBy: utf8.endIndex), h2 < utf8.endIndex,
                    let hi = hex(utf8[h1]), let lo = hex(utf8[h2])
                {
                    bytes.append(hi << 4 | lo)
                    i = h2
                } else {
                    bytes.append(b)
                }
                i = utf8.index(after: i)
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        private static func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }
    }
}

extension Request {
    /// The first value of query parameter `name`, decoded as HTML forms encode it; nil when absent.
    public func queryValue(_ name: String) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if Router.QueryCondition.decode(kv[0]) == name { return kv.count == 2 ? Router.QueryCondition.decode(kv[1]) : "" }
        }
        return nil
    }
}
