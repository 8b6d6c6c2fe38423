public import Atomics
internal import Foundation
public import NIOCore
public import NIOHTTP1
public import NIOPosix

/// What every connection of a server shares: request ids, counters, the file reader.
/// Counters are atomics touched once per request, never a lock.
public final class ConnectionServices: Sendable {
    public let fileReader: FileChunkReader
    /// This instance's part of the ids it makes: 8 random base-62 digits (47.6 bits) and `-`.
    private let idPrefix: [UInt8]
    private let nextID = ManagedAtomic<UInt64>(0)
    public let activeRequests = ManagedAtomic<Int>(0)
    public let totalRequests = ManagedAtomic<Int>(0)
    /// Connections by the protocol they settled on: open now, and in all.
    public let openHTTP1 = ManagedAtomic<Int>(0)
    public let openHTTP2 = ManagedAtomic<Int>(0)
    public let totalHTTP1 = ManagedAtomic<Int>(0)
    public let totalHTTP2 = ManagedAtomic<Int>(0)
    /// Connections (HTTP/1.1 after `101`) and HTTP/2 streams (extended CONNECT) that switched
    /// protocols.
    public let openUpgraded = ManagedAtomic<Int>(0)
    public let totalUpgraded = ManagedAtomic<Int>(0)
    /// HTTP/2 streams that switched protocols by extended CONNECT (RFC 8441), open now and in all.
    public let openUpgradedStreams = ManagedAtomic<Int>(0)
    public let totalUpgradedStreams = ManagedAtomic<Int>(0)
    /// The statuses the parser and limits answer with, in the order of ``rejectedByStatus``
    /// (whose last slot counts any other).
    public static let rejectionStatuses = [400, 408, 413, 414, 417, 431, 501, 505]
    public let rejectedByStatus = (0...rejectionStatuses.count).map { _ in ManagedAtomic<Int>(0) }
    /// The kinds of timeout, in the order of ``timeoutsByKind``.
    public static let timeoutKinds = ["header_read", "body_read", "idle", "send"]
    public let timeoutsByKind = timeoutKinds.map { _ in ManagedAtomic<Int>(0) }
    /// Completed TLS handshakes by protocol version: 1.2, 1.3, other.
    public static let tlsVersions = ["1.2", "1.3", "other"]
    public let tlsHandshakes = tlsVersions.map { _ in ManagedAtomic<Int>(0) }

    public init(threadPool: NIOThreadPool) {
        self.fileReader = FileChunkReader(threadPool: threadPool)
        var rng = SystemRandomNumberGenerator()
        var random = rng.next() as UInt64
        var prefix: [UInt8] = []
        for _ in 0..<8 {
            prefix.append(Self.base62[Int(random % 62)])
            random /= 62
        }
        self.idPrefix = prefix + [UInt8(ascii: "-")]
    }

    static let base62 = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

    /// The client's `X-Request-ID` when well-formed (1...128 of `A-Z a-z 0-9 - _ . : + / =`),
    /// otherwise `<instance>-<counter>`: unique across instances without a random draw per request. Both parts in
    /// base 62, so an id stays within 15 bytes (a `String` kept inline, not allocated) for the first 56 billion
    /// requests of an instance.
    public func requestID(from fields: RequestFields) -> String {
        if let given = fields.first(name: "x-request-id"), Self.isWellFormedID(given) { return given }
        let n = nextID.loadThenWrappingIncrement(ordering: .relaxed)
        return Self.id(prefix: idPrefix, counter: n)
    }

    public func requestID(from headers: HTTPHeaders) -> String { requestID(from: RequestFields(headers)) }

    static func id(prefix: [UInt8], counter: UInt64) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: prefix.count + 11) { out in
            // Written back to front: the counter's digits from the least significant (at most 11 for a UInt64), then
            // the prefix before them; one division by 62 per digit.
            var start = out.count
            var n = counter
            repeat {
                start -= 1
                out[start] = base62[Int(n % 62)]
                n /= 62
            } while n > 0
            start -= prefix.count
            for (i, b) in prefix.enumerated() { out[start + i] = b }
            return String(decoding: UnsafeBufferPointer(rebasing: out[start...]), as: UTF8.self)
        }
    }

    static func isWellFormedID(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= 128 else { return false }
        return utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
                || b == UInt8(ascii: "+") || b == UInt8(ascii: "/") || b == UInt8(ascii: "=")
        }
    }

    func requestStarted() {
        activeRequests.wrappingIncrement(ordering: .relaxed)
        totalRequests.wrappingIncrement(ordering: .relaxed)
    }

    func requestFinished() {
        activeRequests.wrappingDecrement(ordering: .relaxed)
    }

    func rejectedRequest(status: HTTPResponseStatus) {
        let slot = Self.rejectionStatuses.firstIndex(of: Int(status.code)) ?? Self.rejectionStatuses.count
        rejectedByStatus[slot].wrappingIncrement(ordering: .relaxed)
    }

    func timedOut(_ kind: String) {
        let slot = Self.timeoutKinds.firstIndex(of: kind) ?? Self.timeoutKinds.firstIndex(of: "send")!
        timeoutsByKind[slot].wrappingIncrement(ordering: .relaxed)
    }

    func connectionOpened(http2: Bool) {
        (http2 ? openHTTP2 : openHTTP1).wrappingIncrement(ordering: .relaxed)
        (http2 ? totalHTTP2 : totalHTTP1).wrappingIncrement(ordering: .relaxed)
    }

    func connectionClosed(http2: Bool) {
        (http2 ? openHTTP2 : openHTTP1).wrappingDecrement(ordering: .relaxed)
    }

    func tlsHandshakeCompleted(version: String?) {
        let slot = version.flatMap { Self.tlsVersions.firstIndex(of: $0) } ?? 2
        tlsHandshakes[slot].wrappingIncrement(ordering: .relaxed)
    }
}

/// Reads file ranges in chunks on the blocking-I/O thread pool with pread(2), handing each chunk to
/// the event loop. Positional reads never move a shared offset, so one descriptor serves many readers.
public struct FileChunkReader: Sendable {
    public static let chunkSize = 128 * 1024
    let threadPool: NIOThreadPool

    public func stream(
        _ slice: FileSlice, eventLoop: any EventLoop, allocator: ByteBufferAllocator,
        chunk: @escaping @Sendable (ByteBuffer) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        readNext(slice, offset: slice.offset, end: slice.offset + slice.length, eventLoop: eventLoop, allocator: allocator, chunk: chunk, promise: promise)
        return promise.futureResult
    }

    private func readNext(
        _ slice: FileSlice, offset: Int, end: Int, eventLoop: any EventLoop, allocator: ByteBufferAllocator,
        chunk: @escaping @Sendable (ByteBuffer) -> EventLoopFuture<Void>, promise: EventLoopPromise<Void>
    ) {
        if offset >= end {
            promise.succeed()
            return
        }
        let count = min(Self.chunkSize, end - offset)
        let fd = slice.descriptor
        let owner = slice.owner
        threadPool.runIfActive(eventLoop: eventLoop) { () throws -> ByteBuffer in
            try withExtendedLifetime(owner) {
                var buffer = allocator.buffer(capacity: count)
                let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { ptr in
                    let r = pread(fd, ptr.baseAddress, count, off_t(offset))
                    if r < 0 { throw IOError(errnoCode: errno, reason: "pread") }
                    return r
                }
                if n == 0 { throw IOError(errnoCode: EIO, reason: "file shrank while being sent") }
                return buffer
            }
        }.flatMap { buffer in
            chunk(buffer).map { buffer.readableBytes }
        }.whenComplete { result in
            switch result {
            case .success(let n):
                readNext(slice, offset: offset + n, end: end, eventLoop: eventLoop, allocator: allocator, chunk: chunk, promise: promise)
            case .failure(let error):
                promise.fail(error)
            }
        }
    }
}

extension ConnectionServices {
    /// An HTTP/1.1 connection switched protocols: it leaves the HTTP/1.1 count for the upgraded one.
    func connectionUpgraded() {
        openUpgraded.wrappingIncrement(ordering: .relaxed)
        totalUpgraded.wrappingIncrement(ordering: .relaxed)
    }

    func upgradedConnectionClosed() {
        openUpgraded.wrappingDecrement(ordering: .relaxed)
    }

    func streamUpgraded() {
        openUpgradedStreams.wrappingIncrement(ordering: .relaxed)
        totalUpgradedStreams.wrappingIncrement(ordering: .relaxed)
    }

    func upgradedStreamClosed() {
        openUpgradedStreams.wrappingDecrement(ordering: .relaxed)
    }
}
