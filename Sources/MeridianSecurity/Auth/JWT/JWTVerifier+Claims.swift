extension JWTVerifier {
    /// Applies the registered-claim rules of RFC 7519 §4.1 and the configured requirements to a
    /// claims set whose signature has already verified, and renders the forwarded claims.
    ///
    /// Registered claims of the wrong JSON type (`exp` as a string, `sub` as a number) make the
    /// token malformed rather than being ignored, so a check cannot be skipped by changing a type.
    func checkClaims(
        _ claims: [String: JSONValue],
        now: Double,
        keyID: String?,
        algorithm: JWSAlgorithm
    ) throws(JWTRejection) -> VerifiedToken {
        let leeway = configuration.leewaySeconds

        // RFC 7519 §4.1.4: now must be before exp.
        let expiresAt = try Self.numericDate(claims["exp"])
        if let expiresAt {
            guard now < expiresAt + leeway else { throw .expired }
        } else if configuration.requireExpiration {
            throw .missingClaim
        }
        // RFC 7519 §4.1.5: now must be at or after nbf.
        if let notBefore = try Self.numericDate(claims["nbf"]), now + leeway < notBefore {
            throw .notYetValid
        }
        // RFC 7519 §4.1.6 does not forbid a future iat, but a token "issued" beyond the skew
        // tolerance comes from a broken clock or a forger; refuse it.
        if let issuedAt = try Self.numericDate(claims["iat"]), issuedAt > now + leeway {
            throw .issuedInFuture
        }

        let issuer = try Self.string(claims["iss"])
        if !issuers.isEmpty {
            guard let issuer else { throw .missingClaim }
            guard issuers.contains(issuer) else { throw .badIssuer }
        }
        if !audiences.isEmpty {
            try checkAudience(claims["aud"])
        }
        for name in configuration.requiredClaims {
            guard let value = claims[name], value != .null else { throw .missingClaim }
        }

        var forwarded: [(header: String, value: String)] = []
        for forward in configuration.forwardedClaims {
            if let claim = claims[forward.claim], let value = Self.headerValue(of: claim) {
                forwarded.append((header: forward.header, value: value))
            }
        }
        return VerifiedToken(
            subject: try Self.string(claims["sub"]),
            issuer: issuer,
            expiresAt: expiresAt,
            keyID: keyID,
            algorithm: algorithm,
            forwardedClaims: forwarded
        )
    }

    /// RFC 7519 §4.1.3: `aud` is a string or an array of strings; one must be ours.
    private func checkAudience(_ value: JSONValue?) throws(JWTRejection) {
        switch value {
        case nil, .null?:
            throw .missingClaim
        case .string(let audience)?:
            guard audiences.contains(audience) else { throw .badAudience }
        case .array(let elements)?:
            for element in elements {
                guard case .string(let audience) = element else { throw .malformed(.badClaimValue) }
                if audiences.contains(audience) { return }
            }
            throw .badAudience
        default:
            throw .malformed(.badClaimValue)
        }
    }

    /// A NumericDate (RFC 7519 §2): a JSON number of seconds, possibly fractional. `null` counts
    /// as absent; anything else that is not a finite number is malformed.
    private static func numericDate(_ value: JSONValue?) throws(JWTRejection) -> Double? {
        switch value {
        case nil, .null?: return nil
        case .number?:
            guard let seconds = value?.numberValue, seconds.isFinite else { throw .malformed(.badClaimValue) }
            return seconds
        default: throw .malformed(.badClaimValue)
        }
    }

    /// A StringOrURI claim (RFC 7519 §2) such as `iss` or `sub`.
    private static func string(_ value: JSONValue?) throws(JWTRejection) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw .malformed(.badClaimValue)
        }
    }

    /// A claim as an HTTP field value, or `nil` if it has no sensible one or could corrupt the
    /// request: RFC 9110 §5.5 forbids CR, LF and NUL in field values, and other controls are
    /// refused too.
    static func headerValue(of value: JSONValue) -> String? {
        let text: String
        switch value {
        case .string(let string): text = string
        case .number(let literal): return literal
        case .bool(let flag): return flag ? "true" : "false"
        case .array(let elements):
            var parts: [String] = []
            parts.reserveCapacity(elements.count)
            for element in elements {
                switch element {
                case .string(let string): parts.append(string)
                case .number(let literal): parts.append(literal)
                case .bool(let flag): parts.append(flag ? "true" : "false")
                case .null, .array, .object: return nil
                }
            }
            text = parts.joined(separator: ",")
        case .null, .object:
            return nil
        }
        let isSafe = text.utf8.allSatisfy { byte in byte == 0x09 || (byte >= 0x20 && byte != 0x7F) }
        return isSafe ? text : nil
    }
}
