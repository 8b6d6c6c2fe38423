import NIOCore
import Testing

@testable import MeridianRedis

/// The RESP2 reply parser as a pure state machine: every reply type, replies split at every byte, pipelined
/// replies, and hostile input. (The client's tests run it against a real redis-server.)
@Suite struct RESPParserTests {
    static let replies: [(bytes: String, value: RedisValue)] = [
        ("+OK\r\n", .simple("OK")),
        ("+\r\n", .simple("")),
        ("-ERR unknown command 'FOO'\r\n", .error("ERR unknown command 'FOO'")),
        ("-MOVED 3999 127.0.0.1:6381\r\n", .error("MOVED 3999 127.0.0.1:6381")),
        (":0\r\n", .integer(0)),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .bulk(ByteBuffer(string: "hello"))),
        ("$0\r\n\r\n", .bulk(ByteBuffer())),
        ("$4\r\na\r\nb\r\n", .bulk(ByteBuffer(string: "a\r\nb"))),  // CRLF inside a bulk string is data
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("*0\r\n", .array([])),
        ("*3\r\n:1\r\n$1\r\nx\r\n*2\r\n+a\r\n$-1\r\n", .array([.integer(1), .bulk(ByteBuffer(string: "x")), .array([.simple("a"), .null])])),
    ]

    @Test func everyReplyTypeWhole() throws {
        for (bytes, value) in Self.replies {
            var parser = RESPParser()
            parser.feed(ByteBuffer(string: bytes))
            #expect(try parser.next() == value, "\(bytes.debugDescription)")
            #expect(try parser.next() == nil)
        }
    }

    /// All the replies pipelined in one stream, fed in pieces of every size from 1 byte up: the same values, in
    /// order, and nothing before a reply's last byte.
    @Test func pipelinedRepliesSplitAnywhere() throws {
        let stream = Self.replies.map(\.bytes).joined()
        let bytes = Array(stream.utf8)
        for size in [1, 2, 3, 5, 7, 16, bytes.count] {
            var parser = RESPParser()
            var got: [RedisValue] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + size, bytes.count)
                parser.feed(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
                while let value = try parser.next() { got.append(value) }
            }
            #expect(got == Self.replies.map(\.value), "pieces of \(size)")
        }
    }

    /// A large bulk string in many reads: one value, its own buffer (not a slice of a read buffer).
    @Test func aLargeBulkStringAcrossReads() throws {
        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var wire = ByteBuffer(string: "*2\r\n$\(body.count)\r\n")
        wire.writeBytes(body)
        wire.writeString("\r\n:7\r\n+next\r\n")
        var parser = RESPParser()
        var got: [RedisValue] = []
        while wire.readableBytes > 0, let piece = wire.readSlice(length: min(65_536, wire.readableBytes)) {
            parser.feed(piece)
            while let value = try parser.next() { got.append(value) }
        }
        #expect(got.count == 2)
        guard case .array(let items)? = got.first, case .bulk(let b)? = items.first else {
            Issue.record("not an array with a bulk string: \(got.first.map { String(describing: $0).prefix(80) } ?? "nil")")
            return
        }
        #expect(Array(b.readableBytesView) == body)
        #expect(items.last == .integer(7) && got.last == .simple("next"))
    }

    /// A bulk string of ``RESPParser/directBulk`` bytes or more that spans reads goes straight into its own buffer
    /// as each read comes: whatever the read sizes (one byte, a split between its data and its CRLF, or between CR
    /// and LF), the same values, a buffer of the string's own size, and a wrong terminator still an error.
    @Test func aLargeBulkStringIsCopiedOnceAsItArrives() throws {
        let body = ByteBuffer(bytes: (0..<(RESPParser.directBulk + 3_000)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var reply = ByteBuffer(string: "*3\r\n:1\r\n$\(body.readableBytes)\r\n")
        reply.writeImmutableBuffer(body)
        reply.writeString("\r\n$2\r\nok\r\n+after\r\n")
        let expected: [RedisValue] = [.array([.integer(1), .bulk(body), .bulk(ByteBuffer(string: "ok"))]), .simple("after")]
        let headerEnd = reply.readableBytesView.firstIndex(of: UInt8(ascii: "$"))! + 8
        let crlfAt = headerEnd + body.readableBytes
        for cuts in [[1], [7], [1_000], [headerEnd, crlfAt], [headerEnd, crlfAt + 1], [headerEnd + 5, crlfAt - 1], [reply.readableBytes - 1]] {
            var wire = reply
            var parser = RESPParser()
            var got: [RedisValue] = []
            var at = 0
            // One cut: pieces of that size; several: pieces ending at those offsets, then the rest.
            while wire.readableBytes > 0 {
                let size = cuts.count == 1 ? cuts[0] : ((cuts.first { $0 > at } ?? reply.readableBytes) - at)
                let piece = wire.readSlice(length: min(size, wire.readableBytes))!
                at += piece.readableBytes
                parser.feed(piece)
                while let value = try parser.next() { got.append(value) }
            }
            #expect(got == expected, "cut at \(cuts)")
            if case .array(let items)? = got.first, case .bulk(let b) = items[1] {
                #expect(b.storageCapacity < 2 * body.readableBytes, "its own buffer (\(b.storageCapacity) bytes)")
            }
        }
        var bad = ByteBuffer(string: "$\(RESPParser.directBulk)\r\n")
        bad.writeRepeatingByte(0x61, count: RESPParser.directBulk)
        bad.writeString("xx")
        var parser = RESPParser()
        parser.feed(bad.readSlice(length: 100)!)
        #expect(try parser.next() == nil)
        parser.feed(bad)
        #expect(throws: RedisError.self) { try parser.next() }
    }

    /// A bulk string is a buffer of its own, not a slice of the bytes it came in (which a cached body would keep
    /// alive whole): here the reply comes in one buffer with a megabyte behind it.
    @Test func aBulkStringDoesNotKeepItsReadBufferAlive() throws {
        let body = ByteBuffer(repeating: 0x61, count: 100_000)
        var wire = ByteBuffer(string: "$100000\r\n")
        wire.writeImmutableBuffer(body)
        wire.writeString("\r\n$1048576\r\n")
        wire.writeRepeatingByte(0x62, count: 1 << 20)
        wire.writeString("\r\n")
        var parser = RESPParser()
        parser.feed(wire)
        guard case .bulk(let b)? = try parser.next() else { Issue.record("not a bulk string"); return }
        #expect(b == body)
        #expect(b.storageCapacity <= 131_072, "its own storage (\(b.storageCapacity) bytes), not the 1.1 MiB read's")
        guard case .bulk(let second)? = try parser.next() else { Issue.record("not a bulk string"); return }
        #expect(second.readableBytes == 1 << 20)
    }

    /// Each reply in two reads, the second ending at the reply's end: every reply after the first is gathered in
    /// the buffer the one before left (the spare), and the values stay apart.
    @Test func repliesEndingAtReadBoundariesReuseTheGatheringBuffer() throws {
        var parser = RESPParser()
        for i in 0..<6 {
            let body = ByteBuffer(repeating: UInt8(0x41 + i), count: 70_000 + i * 1_000)
            var wire = ByteBuffer(string: "*2\r\n$\(body.readableBytes)\r\n")
            wire.writeImmutableBuffer(body)
            wire.writeString("\r\n:\(i)\r\n")
            let first = wire.readSlice(length: 40_000)!
            parser.feed(first)
            #expect(try parser.next() == nil)
            parser.feed(wire)
            #expect(try parser.next() == .array([.bulk(body), .integer(Int64(i))]), "reply \(i)")
            #expect(try parser.next() == nil)
        }
    }

    /// A long array of small elements over many reads, with an error reply among them: the same value as whole.
    @Test func aLongArrayOverManyReads() throws {
        var wire = ByteBuffer(string: "*30001\r\n-ERR in the middle\r\n")
        var items: [RedisValue] = [.error("ERR in the middle")]
        for i in 0..<30_000 {
            wire.writeString("$\(String(i).utf8.count)\r\n\(i)\r\n")
            items.append(.bulk(ByteBuffer(string: String(i))))
        }
        var parser = RESPParser()
        var got: RedisValue?
        while wire.readableBytes > 0, let piece = wire.readSlice(length: min(997, wire.readableBytes)) {
            parser.feed(piece)
            if let value = try parser.next() { got = value }
        }
        #expect(got == .array(items))
    }

    @Test func aStatusLineMayHoldACarriageReturn() throws {
        var parser = RESPParser()
        parser.feed(ByteBuffer(string: "+OK\r\r\n"))  // the line ends at CRLF; the CR before it is text
        #expect(try parser.next() == .simple("OK\r"))
    }

    /// Many large replies in a row, in reads that cut them anywhere: the gathering buffer is reused (and its read
    /// bytes dropped) without mixing one reply's bytes into the next.
    @Test func largeRepliesInARowReuseTheGatheringBuffer() throws {
        var wire = ByteBuffer()
        var expected: [RedisValue] = []
        for i in 0..<12 {
            let body = ByteBuffer(bytes: (0..<(50_000 + i * 7_919)).map { UInt8(truncatingIfNeeded: $0 &+ i) })
            wire.writeString("*2\r\n$\(body.readableBytes)\r\n")
            wire.writeImmutableBuffer(body)
            wire.writeString("\r\n:\(i)\r\n")
            expected.append(.array([.bulk(body), .integer(Int64(i))]))
        }
        var parser = RESPParser()
        var got: [RedisValue] = []
        var size = 1_000
        while wire.readableBytes > 0, let piece = wire.readSlice(length: min(size, wire.readableBytes)) {
            parser.feed(piece)
            while let value = try parser.next() { got.append(value) }
            size = size * 3 % 65_521 + 1  // uneven reads
        }
        #expect(got == expected)
    }

    @Test(arguments: [
        ("!3\r\nabc\r\n", "unknown reply type"),  // RESP3 is not spoken
        ("%1\r\n", "unknown reply type"),
        ("hello\r\n", "unknown reply type"),
        (":12a\r\n", "bad integer"),
        (":\r\n", "bad integer"),
        (":-\r\n", "bad integer"),
        (":9223372036854775808\r\n", "bad integer"),
        ("$-2\r\n", "bad bulk string length"),
        ("$x\r\n", "bad bulk string length"),
        ("$536870913\r\n", "bad bulk string length"),  // over 512 MiB
        ("$3\r\nabcde\r\n", "not followed by CRLF"),
        ("*-2\r\n", "bad array length"),
        ("+OK\n", "not ended by CRLF"),
        ("*1048577\r\n", "bad array length"),  // more elements than a reply may hold
    ])
    func hostileInputIsAProtocolError(input: String, reason: String) throws {
        var parser = RESPParser()
        parser.feed(ByteBuffer(string: input))
        let error = #expect(throws: RedisError.self) { try parser.next() }
        guard case .protocolError(let message)? = error else {
            Issue.record("not a protocol error: \(String(describing: error))")
            return
        }
        #expect(message.contains(reason), "\(message)")
    }

    @Test func nestingAndLineLengthAreBounded() throws {
        var deep = RESPParser()
        deep.feed(ByteBuffer(string: String(repeating: "*1\r\n", count: RESPParser.maxDepth + 1) + ":1\r\n"))
        #expect(throws: RedisError.self) { try deep.next() }
        var ok = RESPParser()
        ok.feed(ByteBuffer(string: String(repeating: "*1\r\n", count: RESPParser.maxDepth) + ":1\r\n"))
        var value = try ok.next()
        for _ in 0..<RESPParser.maxDepth {
            guard case .array(let items)? = value, items.count == 1 else { Issue.record("not nested: \(String(describing: value))"); return }
            value = items[0]
        }
        #expect(value == .integer(1))
        // A status line that never ends: an error once it is longer than the limit, not a growing buffer.
        var long = RESPParser()
        long.feed(ByteBuffer(string: "+" + String(repeating: "a", count: RESPParser.maxLine)))
        #expect(try long.next() == nil)
        long.feed(ByteBuffer(string: String(repeating: "a", count: 16)))
        #expect(throws: RedisError.self) { try long.next() }
        // A line of exactly the limit is fine.
        var atLimit = RESPParser()
        atLimit.feed(ByteBuffer(string: "+" + String(repeating: "a", count: RESPParser.maxLine) + "\r\n"))
        #expect(try atLimit.next() == .simple(String(repeating: "a", count: RESPParser.maxLine)))
        // An array that promises more elements than will come is just incomplete, and reserves nothing huge.
        var promise = RESPParser()
        promise.feed(ByteBuffer(string: "*1000000\r\n:1\r\n"))
        #expect(try promise.next() == nil)
        // Arrays within arrays count together: 2 x 600,000 announced elements is over the reply's limit.
        var many = RESPParser()
        many.feed(ByteBuffer(string: "*2\r\n*600000\r\n" + String(repeating: ":1\r\n", count: 600_000) + "*600000\r\n"))
        #expect(throws: RedisError.self) { try many.next() }
    }
}
