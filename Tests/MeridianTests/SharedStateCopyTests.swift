import NIOCore
import Testing

@testable import MeridianCore
@testable import MeridianTelemetry

/// Values that share storage between copies to save retains, checked to behave as plain values.
struct SharedStateCopyTests {
    @Test func aConnectionInfoCopyKeepsItsFieldsWhenTheOriginalChanges() throws {
        let first = try SocketAddress(ipAddress: "192.0.2.1", port: 1000)
        let second = try SocketAddress(ipAddress: "2001:db8::2", port: 2000)
        var info = ConnectionInfo(remoteAddress: first, localAddress: nil, scheme: "http")
        info.listener = "public"
        let kept = info  // what an earlier request holds
        info.remoteAddress = second
        info.scheme = "https"
        info.tlsVersion = "1.3"
        info.listener = "admin"
        info.canSendFile = true
        info.protocolVersion = "1.0"
        #expect(kept.remoteAddress == first && kept.remoteIP == "192.0.2.1")
        #expect(kept.scheme == "http" && kept.tlsVersion == nil && kept.listener == "public")
        #expect(!kept.canSendFile && kept.protocolVersion == "1.1")
        #expect(info.remoteAddress == second && info.remoteIP == "2001:db8::2")
        #expect(info.scheme == "https" && info.tlsVersion == "1.3" && info.listener == "admin")
        #expect(info.canSendFile && info.protocolVersion == "1.0")
        info.remoteAddress = nil
        #expect(info.remoteIP == nil && kept.remoteIP == "192.0.2.1")
    }

    @Test func metricsCountEveryRequestWhateverTheOrderOfKeysAndSnapshots() {
        let metrics = RequestMetrics(maxSeriesPerShard: 3)
        func key(_ route: String, _ status: Int = 200) -> RequestMetrics.Key {
            RequestMetrics.Key(route: route, method: "GET", status: status, protocolVersion: "1.1")
        }
        func record(_ k: RequestMetrics.Key) { metrics.record(k, seconds: 0.001, bytesIn: 1, bytesOut: 10, exemplar: nil) }
        record(key("/a"))
        record(key("/a"))
        record(key("/b"))  // a new key: the remembered series is dropped
        record(key("/a"))
        var snapshot = metrics.snapshot()
        #expect(snapshot[key("/a")]?.count == 3 && snapshot[key("/b")]?.count == 1)
        record(key("/a"))  // after a snapshot shared the shard's series
        record(key("/a"))
        record(key("/c"))
        record(key("/d"))  // over three series: the overflow series
        record(key("/e"))
        record(key("/c"))
        snapshot = metrics.snapshot()
        #expect(snapshot[key("/a")]?.count == 5 && snapshot[key("/b")]?.count == 1 && snapshot[key("/c")]?.count == 2)
        let overflow = snapshot.first { $0.key.route == "overflow" }?.value
        #expect(overflow?.count == 2 && snapshot[key("/d")] == nil)
        #expect(snapshot.values.reduce(0) { $0 + $1.count } == 10)
    }
}
