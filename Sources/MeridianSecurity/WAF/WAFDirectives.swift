/// The SecLang Meridian writes around the CRS, generated from a `WAFEngine.Configuration`.
///
/// Generated rather than shipped as files so a setting has exactly one source (the Meridian
/// config) and cannot drift from a copy on disk. The hardening rules follow ModSecurity's
/// modsecurity.conf-recommended (v3.0.9: rules 200000–200004 and 200007), renumbered into
/// Meridian's reserved ids, with one change: a body that failed to parse only because it was cut
/// at `maxBodyBytes` (`INBOUND_DATA_ERROR` = 1) is not refused, since the WAF must not block a
/// request for its size alone. Everything else the CRS needs comes from its own setup file.
enum WAFDirectives {
    /// Rule ids Meridian generates. ModSecurity's reserved-range list gives 1–99,999 to local use;
    /// operators' own rules should avoid this block.
    static let reservedRuleIDs = 99_000...99_099
    /// The phase-5 rule that reports the final inbound anomaly score through the log callback.
    static let scoreReportRuleID = 99_020
    static let scoreReportMessagePrefix = "Meridian inbound anomaly score "

    /// Engine settings and body handling, loaded first.
    static func engine(_ configuration: WAFEngine.Configuration) -> String {
        let engine = configuration.mode == .blocking ? "On" : "DetectionOnly"
        let bound = configuration.maxBodyBytes
        var lines = [
            "SecRuleEngine \(engine)",
            "SecRequestBodyAccess On",
            "SecResponseBodyAccess Off",
            // Both limits equal: a JSON or URL-encoded body over SecRequestBodyNoFilesLimit is not
            // parsed at all (transaction.cc), while ProcessPartial keeps exactly `bound` bytes.
            "SecRequestBodyLimit \(bound)",
            "SecRequestBodyNoFilesLimit \(bound)",
            "SecRequestBodyLimitAction ProcessPartial",
            "SecRequestBodyJsonDepthLimit 512",
            "SecArgumentsLimit 1000",
            // Verdicts go back to the caller; Meridian's access log records them.
            "SecAuditEngine Off",
            #"""
            SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application(?:/soap\+|/)|text/)xml" \
                "id:99000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
            """#,
            #"""
            SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" \
                "id:99001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
            """#,
            // A body the processor could not parse leaves ARGS empty: let it through uninspected
            // and any payload passes, so refuse it — unless it was only cut at the bound.
            #"""
            SecRule REQBODY_ERROR "!@eq 0" \
                "id:99002,phase:2,t:none,log,deny,status:400,severity:2,\
                msg:'Failed to parse request body',logdata:'%{reqbody_error_msg}',chain"
                SecRule INBOUND_DATA_ERROR "@eq 0" "t:none"
            """#,
            #"""
            SecRule MULTIPART_STRICT_ERROR "!@eq 0" \
                "id:99003,phase:2,t:none,log,deny,status:400,severity:2,\
                msg:'Multipart request body failed strict validation',chain"
                SecRule INBOUND_DATA_ERROR "@eq 0" "t:none"
            """#,
            #"""
            SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" \
                "id:99004,phase:2,t:none,log,deny,status:400,severity:2,\
                msg:'Multipart parser detected a possible unmatched boundary',chain"
                SecRule INBOUND_DATA_ERROR "@eq 0" "t:none"
            """#,
            #"""
            SecRule &ARGS "@ge 1000" \
                "id:99007,phase:2,t:none,log,deny,status:400,severity:2,\
                msg:'Failed to fully parse request body due to large argument count'"
            """#,
        ]
        if configuration.crsSetupFile == nil {
            // What crs-setup.conf.example puts first: anomaly scoring, rules pass and log.
            lines.append(#"SecDefaultAction "phase:1,log,auditlog,pass""#)
            lines.append(#"SecDefaultAction "phase:2,log,auditlog,pass""#)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The CRS variables Meridian owns, loaded after the setup file so they win over it and before
    /// REQUEST-901, which only fills in the ones still unset.
    ///
    /// CRS 3.3 names the scoring level `tx.paranoia_level` and the executing one
    /// `tx.executing_paranoia_level`; `tx.blocking_paranoia_level` is CRS 4's name for the first,
    /// set as well so the same directives keep their meaning on CRS 4. `tx.crs_setup_version`
    /// must be set or REQUEST-901 (rule 901001) denies every request with "CRS is deployed
    /// without configuration".
    static func crsVariables(_ configuration: WAFEngine.Configuration, setupVersion: Int) -> String {
        let level = configuration.paranoiaLevel
        let methods = configuration.allowedMethods.joined(separator: " ")
        let contentTypes = configuration.allowedContentTypes.map { "|\($0)|" }.joined(separator: " ")
        let actions = [
            "id:99010", "phase:1", "pass", "nolog", "t:none",
            "setvar:tx.paranoia_level=\(level)",
            "setvar:tx.executing_paranoia_level=\(level)",
            "setvar:tx.blocking_paranoia_level=\(level)",
            "setvar:tx.inbound_anomaly_score_threshold=\(configuration.anomalyThreshold)",
            "setvar:'tx.allowed_methods=\(methods)'",
            "setvar:'tx.allowed_request_content_type=\(contentTypes)'",
            "setvar:tx.crs_setup_version=\(setupVersion)",
        ]
        return "SecAction \"\(actions.joined(separator: ","))\"\n"
    }

    /// Reports `tx.anomaly_score` in phase 5 (logging), which runs in both modes and after a
    /// block, since `msc_intervention` clears the disruption that stops a phase. Only when the
    /// score is above 0, so a clean request pays one comparison and no log line.
    static let scoreReport =
        #"SecRule TX:ANOMALY_SCORE "@gt 0" "id:\#(scoreReportRuleID),phase:5,pass,t:none,log,"#
        + #"msg:'\#(scoreReportMessagePrefix)%{tx.anomaly_score}'""# + "\n"

    /// `tx.crs_setup_version` for the installed CRS: 334 for rules tagged `ver:'OWASP_CRS/3.3.4'`.
    static func setupVersion(fromRuleText text: String) -> Int? {
        guard let marker = text.firstRange(of: "ver:'OWASP_CRS/") else { return nil }
        let digits = text[marker.upperBound...].prefix { $0.isNumber || $0 == "." }
        let parts = digits.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ (0...9).contains($0) }) else { return nil }
        return parts[0] * 100 + parts[1] * 10 + parts[2]
    }
}
