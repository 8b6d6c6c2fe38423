internal import Atomics
public import MeridianConfig
public import MeridianCore
internal import MeridianProxy
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// `waf:` on a route: ModSecurity with the OWASP Core Rule Set inspects the request line, the headers and the
/// first `max_body` bytes of the body (``RequestBody/peek(upTo:on:)``: the action still gets the whole body).
/// In blocking mode a request the rules refuse is answered 403 with its request id and never reaches the action;
/// in detection mode it goes on. Either way the matched rule ids reach the access log and the span (`waf`
/// annotation) and the metrics.
///
/// Inspection runs on ``WAFInspection/pool``, not on the event loop: with the CRS loaded it costs hundreds of
/// microseconds per request (README, bench/security.sh), which on a loop would hold up every other connection on it.
public struct WAFMiddleware: Middleware {
    let engine: WAFEngine
    let settings: Configuration.WAF
    let trustedProxies: [IPNetwork]
    let counters: SecurityStats.WAFCounters
    let stats: SecurityStats

    public init(engine: WAFEngine, settings: Configuration.WAF, trustedProxies: [IPNetwork], route: String, stats: SecurityStats) {
        self.engine = engine
        self.settings = settings
        self.trustedProxies = trustedProxies
        self.counters = stats.wafCounters(route: route)
        self.stats = stats
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        let loop = context.eventLoop
        // A bounded queue: under more load than the inspection threads keep up with, waiting would only add latency
        // and hold bodies in memory. Blocking mode refuses (fail closed), detection mode passes (fail open).
        guard counters.inFlight.loadThenWrappingIncrement(ordering: .relaxed) < settings.maxQueue else {
            counters.inFlight.wrappingDecrement(ordering: .relaxed)
            counters.overloaded.wrappingIncrement(ordering: .relaxed)
            context.annotate(WAFAnnotation.self, "overloaded")
            guard settings.mode == .blocking else { return next.respond(to: request, context: context) }
            var r = Response.text(.serviceUnavailable, "503 Service Unavailable: the web application firewall is overloaded (request id \(request.id))\n")
            r.headers.add(name: "retry-after", value: "1")
            r.headers.add(name: "cache-control", value: "no-store")
            return .immediate(r)
        }
        let hasBody = !(request.body.isComplete && request.body.queuedBytes == 0) && settings.maxBodyBytes > 0
        let body: EventLoopFuture<[UInt8]?> =
            hasBody
            ? request.body.peek(upTo: settings.maxBodyBytes, on: loop).map { peeked in
                var bytes = peeked.bytes
                return bytes.readBytes(length: min(bytes.readableBytes, settings.maxBodyBytes))
            }
            : loop.makeSucceededFuture(nil)
        let waf = wafRequest(request)
        let (engine, counters, stats, blocking) = (engine, counters, stats, settings.mode == .blocking)
        let verdict = body.flatMap { bytes -> EventLoopFuture<WAFVerdict> in
            var inspected = waf
            inspected.body = bytes
            return WAFInspection.pool.runIfActive(eventLoop: loop) { engine.inspect(inspected) }
        }
        verdict.whenComplete { _ in counters.inFlight.wrappingDecrement(ordering: .relaxed) }
        return .eventually(
            verdict.flatMap { v -> EventLoopFuture<Response> in
                if !v.matchedRuleIDs.isEmpty {
                    let ids = v.matchedRuleIDs.map(String.init).joined(separator: ",")
                    let action = v.blocked && blocking ? "blocked" : "matched"
                    context.annotate(WAFAnnotation.self, "\(action) score=\(v.anomalyScore) rules=\(ids)")
                    context.addEvent(
                        RecordEvent(name: "waf.\(action)", attributes: [
                            ("meridian.waf.rule_ids", .strings(v.matchedRuleIDs.map(String.init))),
                            ("meridian.waf.anomaly_score", .int(v.anomalyScore)),
                            ("meridian.waf.mode", .string(blocking ? "blocking" : "detection")),
                        ])
                    )
                    stats.countWAFRules(v.matchedRuleIDs)
                }
                if v.blocked, blocking {
                    counters.blocked.wrappingIncrement(ordering: .relaxed)
                    var r = Response.text(.forbidden, "403 Forbidden: refused by the web application firewall (request id \(request.id))\n")
                    r.headers.add(name: "cache-control", value: "no-store")
                    return loop.makeSucceededFuture(r)
                }
                (v.matchedRuleIDs.isEmpty ? counters.passed : counters.detected).wrappingIncrement(ordering: .relaxed)
                return next.respond(to: request, context: context).future(on: loop)
            }
        )
    }

    func wafRequest(_ request: Request) -> WAFRequest {
        let client = ClientAddress.of(request, trustedProxies: trustedProxies)
        let version: WAFRequest.HTTPVersion = request.version.major == 2 ? .http2 : (request.version.minor == 0 ? .http1Dot0 : .http1Dot1)
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(request.fields.count)
        for (name, value) in request.fields where !name.hasPrefix(":") { headers.append((name, value)) }
        if version == .http2, !request.fields.contains(name: "host") { headers.append(("Host", request.host)) }
        return WAFRequest(
            method: request.method.rawValue, uri: request.uri, version: version, headers: headers, body: nil,
            clientAddress: client?.text ?? "0.0.0.0", clientPort: request.connection.remoteAddress?.port ?? 0,
            serverAddress: request.connection.localAddress?.ipAddress ?? "127.0.0.1", serverPort: request.connection.localAddress?.port ?? 0,
            requestID: request.id
        )
    }
}

/// What the WAF did: `blocked score=10 rules=942100,949110` or `matched …` (detection mode, or under the threshold).
public enum WAFAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "waf"
}

/// The threads WAF inspection runs on: one per core, shared by every WAF route of the process.
enum WAFInspection {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(1, System.coreCount))
        pool.start()
        return pool
    }()
}
