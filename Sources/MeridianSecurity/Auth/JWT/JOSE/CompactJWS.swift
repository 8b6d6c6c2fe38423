/// A token split into its compact-serialisation segments (RFC 7515 §7.1), with the header read.
///
/// Only the header is decoded here: the payload is attacker-controlled JSON that is parsed after
/// the signature verifies. The size and segment-count bounds are checked before any base64 or
/// JSON work, so an oversized or many-segment input costs one byte scan.
struct CompactJWS {
    let bytes: [UInt8]
    private let firstDot: Int
    private let secondDot: Int
    /// The header's `alg`, already known to be one the verifier implements.
    let algorithm: JWSAlgorithm
    /// The header's `kid`, if present.
    let keyID: String?

    init(_ token: Substring, maximumBytes: Int) throws(JWTRejection) {
        let utf8 = token.utf8
        guard utf8.count <= maximumBytes else { throw .malformed(.tooLarge) }
        let bytes = Array(utf8)
        var firstDot = -1
        var secondDot = -1
        for index in bytes.indices where bytes[index] == UInt8(ascii: ".") {
            if firstDot < 0 {
                firstDot = index
            } else if secondDot < 0 {
                secondDot = index
            } else {
                throw .malformed(.notCompactJWS)  // a fourth segment: JWE has five, JWS three
            }
        }
        guard secondDot >= 0 else { throw .malformed(.notCompactJWS) }

        guard let headerBytes = Base64URL.decode(bytes[..<firstDot]) else { throw .malformed(.badEncoding) }
        guard case .object(let header)? = JSONValue.parse(headerBytes),
            case .string(let algorithmName)? = header["alg"]
        else { throw .malformed(.badHeader) }
        guard let algorithm = JWSAlgorithm(name: algorithmName) else {
            // RFC 7518 §3.6 `none` in any case: a distinct label, since it is an attack signal.
            throw algorithmName.lowercased() == "none" ? .algorithmNone : .unsupportedAlgorithm
        }
        // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; none are.
        guard header["crit"] == nil else { throw .malformed(.unsupportedCriticalHeader) }
        var keyID: String?
        if let value = header["kid"] {
            guard case .string(let kid) = value else { throw .malformed(.badHeader) }
            keyID = kid
        }
        // `jwk`, `jku`, `x5u` and `x5c` are ignored on purpose: keys come only from configuration,
        // never from the token that is being checked (RFC 8725 §3.10).

        self.bytes = bytes
        self.firstDot = firstDot
        self.secondDot = secondDot
        self.algorithm = algorithm
        self.keyID = keyID
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, what the signature covers (RFC 7515 §5.1).
    var signingInput: ArraySlice<UInt8> { bytes[..<secondDot] }

    var payloadSegment: ArraySlice<UInt8> { bytes[(firstDot + 1)..<secondDot] }

    var signatureSegment: ArraySlice<UInt8> { bytes[(secondDot + 1)...] }
}
