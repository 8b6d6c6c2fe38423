import MeridianConfig
import MeridianCore
import NIOCore
import NIOHTTP1
import Testing

@testable import MeridianTelemetry

/// Typed annotations an action adds to a request's record reach the access log by name, with no
/// change to Core or the log's configuration.
@Suite struct RecordAnnotationsTests {
    enum CacheStatus: RecordAnnotationKey {
        typealias Value = String
        static let name = "cache_status"
    }

    enum UpstreamMillis: RecordAnnotationKey {
        typealias Value = Int
        static let name = "upstream_ms"
    }

    @Test func annotationsAreTypedAndReplaced() {
        var a = RecordAnnotations()
        #expect(a.isEmpty && a[CacheStatus.self] == nil)
        a[CacheStatus.self] = "MISS"
        a[UpstreamMillis.self] = 12
        a[CacheStatus.self] = "HIT"
        #expect(a[CacheStatus.self] == "HIT" && a[UpstreamMillis.self] == 12)
        #expect(a.all.map(\.name) == ["upstream_ms", "cache_status"])
    }

    enum Numbered<T>: RecordAnnotationKey {
        typealias Value = Int
        static var name: String { "k_\(T.self)" }
    }

    /// Many keys (some share a bit of the present-set): each found, replaced, removed and set again correctly.
    @Test func manyKeysAreKeptApart() {
        var a = RecordAnnotations()
        a[Numbered<Int8>.self] = 1
        a[Numbered<Int16>.self] = 2
        a[Numbered<Int32>.self] = 3
        a[Numbered<Int64>.self] = 4
        a[Numbered<UInt8>.self] = 5
        a[Numbered<UInt16>.self] = 6
        a[Numbered<UInt32>.self] = 7
        a[Numbered<UInt64>.self] = 8
        a[Numbered<Float>.self] = 9
        a[Numbered<Double>.self] = 10
        #expect(a[Numbered<Int8>.self] == 1 && a[Numbered<UInt64>.self] == 8 && a[Numbered<Double>.self] == 10)
        #expect(a[Numbered<String>.self] == nil && a[UpstreamMillis.self] == nil)
        a[Numbered<Int32>.self] = 30
        a[Numbered<Float>.self] = nil
        #expect(a[Numbered<Int32>.self] == 30 && a[Numbered<Float>.self] == nil)
        #expect(a.all.map(\.name) == ["k_Int8", "k_Int16", "k_Int64", "k_UInt8", "k_UInt16", "k_UInt32", "k_UInt64", "k_Double", "k_Int32"])
        a[Numbered<Float>.self] = 90
        #expect(a[Numbered<Float>.self] == 90 && a.all.count == 10)
    }

    @Test func theAccessLogWritesEveryAnnotation() {
        let log = AccessLog(Configuration.AccessLog(fields: [.status]))
        let request = Request(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x"), id: "r1", connection: ConnectionInfo(remoteAddress: nil, localAddress: nil))
        var annotations = RecordAnnotations()
        annotations[UpgradeAnnotation.self] = "websocket"
        annotations[UpstreamMillis.self] = 7
        annotations[CacheStatus.self] = "say \"hi\""
        let record = RequestRecord(
            request: request, route: "/x", status: .switchingProtocols, bodyBytesSent: 0, bodyBytesReceived: 0, duration: .milliseconds(1),
            error: nil, annotations: annotations
        )
        var out: [UInt8] = []
        log.format(record, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"status":101,"upgrade":"websocket","upstream_ms":7,"cache_status":"say \"hi\""}"# + "\n")
    }
}
