import Foundation
import MeridianSecurity
import Testing

/// One engine, many threads: every concurrent verdict equals the serial one.
@Suite("WAF under concurrent inspection", .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WAFEngineConcurrencyTests {
    /// Benign, attack, and scanner requests with a fresh User-Agent each time: the mix that, with
    /// the CRS unfiltered, has libmodsecurity 3.0.9 write its shared IP collection on one thread
    /// while rule 949100 reads it on another.
    static func requests(round: Int) -> [WAFRequest] {
        [
            WAFFixtures.request("/api/users/42?sort=name&page=2"),
            WAFFixtures.request("/products?id=1'%20OR%20'1'='1"),
            WAFFixtures.post("/api/items", contentType: "application/json", body: #"{"name":"widget","count":3}"#),
            WAFFixtures.request(
                "/", headers: [("Host", "www.example.com"), ("User-Agent", "sqlmap/1.\(round)"), ("Accept", "*/*")]),
        ]
    }

    @Test("8 tasks × 25 rounds on one engine agree with serial verdicts")
    func concurrentVerdictsMatchSerial() async throws {
        let engine = try WAFFixtures.blockingPL1.get()
        let expected = Self.requests(round: 0).map { Summary(engine.inspect($0)) }

        let mismatches = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var mismatches = 0
                    for round in 0..<25 {
                        for (index, request) in Self.requests(round: task * 100 + round).enumerated()
                        where Summary(engine.inspect(request)) != expected[index] {
                            mismatches += 1
                        }
                    }
                    return mismatches
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    /// ModSecurity's rule parser is not reentrant (#2536, #3138); the engine serialises loads.
    @Test("engines built on several threads at once all load and work")
    func concurrentLoads() async throws {
        let verdicts = try await withThrowingTaskGroup(of: Bool.self) { group in
            for level in 1...3 {
                group.addTask {
                    let engine = try WAFEngine(configuration: .init(paranoiaLevel: level))
                    return engine.inspect(WAFFixtures.request("/products?id=1'%20OR%20'1'='1")).blocked
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(verdicts == [true, true, true])
    }

    /// The parts of a verdict that must not depend on what else runs at the same time.
    struct Summary: Equatable {
        let blocked: Bool
        let status: Int?
        let ids: [Int]
        let score: Int

        init(_ verdict: WAFVerdict) {
            blocked = verdict.blocked
            status = verdict.status
            ids = verdict.matchedRuleIDs
            score = verdict.anomalyScore
        }
    }
}
