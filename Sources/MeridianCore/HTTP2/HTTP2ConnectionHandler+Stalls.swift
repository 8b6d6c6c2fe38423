internal import Logging
public import NIOCore
internal import NIOHTTP2

/// The stall rules of an HTTP/2 connection: responses whose client stopped taking them, request
/// bodies that stopped arriving, and sockets that take nothing.
extension HTTP2ConnectionHandler {
    /// Bumped (by `HTTP2StreamEventFilter`) whenever the connection's outbound window shrinks:
    /// DATA went out. (Not when it grows: a client could send 1-byte connection WINDOW_UPDATEs
    /// to keep a stream it never lets through alive.) Counting costs nothing per frame; the stall
    /// timer compares it between ticks.
    func connectionSentData() { outboundProgress &+= 1 }

    /// Every "not writable" restarts the clock: when the socket drains, NIOHTTP2Handler first
    /// sends the frames it held back, which can make the channel unwritable again before the
    /// "writable" event reaches this handler (it then reads `isWritable` as false twice). Each
    /// such event is a transition, so bytes moved; a socket that takes nothing sends none.
    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        connectionStall.writabilityChanged(context.channel.isWritable, at: clock.now)
        if !context.channel.isWritable { armStallTimer(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Two clocks per stream and one per connection, checked by one timer per connection while
    /// any runs:
    /// - response: a body waits on each chunk until flow control lets it go; a client that never
    ///   opens its window would hold the stream (an open file, a chunk in memory) forever. No
    ///   progress for `timeouts.send` resets the stream with CANCEL, as HTTP/1.1 closes. A whole
    ///   response handed to NIOHTTP2 counts as progressing while the connection sends DATA
    ///   (NIOHTTP2 reports no per-stream progress short of an event per frame).
    /// - request body: DATA that stops coming for `timeouts.body_read` while the response is
    ///   still pending gets 408 (as HTTP/1.1 does), or CANCEL once the response has begun.
    /// - connection: a socket that takes nothing for `timeouts.send` (the client stopped reading)
    ///   closes the connection: NIOHTTP2 holds even RST_STREAM back while the channel is not
    ///   writable, so resetting streams would change nothing.
    func armStallTimer(context: ChannelHandlerContext) {
        guard stallTimer == nil else { return }
        let timeouts = currentRuntime().timeouts
        let send = TimeAmount(timeouts.send), bodyRead = TimeAmount(timeouts.bodyRead)
        let period = TimeAmount.nanoseconds(max(100_000_000, min(send, bodyRead).nanoseconds / 4))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        stallTimer = context.eventLoop.scheduleTask(in: period) {
            let (handler, context) = loopBound.value
            handler.stallTimer = nil
            handler.resetStalledStreams(context: context, send: send, bodyRead: bodyRead)
        }
    }

    func resetStalledStreams(context: ChannelHandlerContext, send: TimeAmount, bodyRead: TimeAmount) {
        guard self.context != nil else { return }
        let now = clock.now
        let buffered = connectionStall.unwritableSince == nil ? nil : try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)
        let progressed: Bool
        var running: Bool
        switch connectionStall.tick(at: now, send: currentRuntime().timeouts.send, bufferedBytes: buffered, outboundProgress: outboundProgress) {
        case .close:
            services.timedOut("send")
            runtimeBox.current.logger.debug("closing an HTTP/2 connection whose client stopped reading", metadata: ["streams": "\(streams.count)"])
            context.close(promise: nil)
            return
        case .checkStreams(let p, let r):
            progressed = p
            running = r
        }
        for (_, stream) in streams where stream.clocks.isRunning {
            let readerBehind = stream.body.queuedBytes >= initialWindowSize
            switch stream.clocks.check(at: now, connectionProgressed: progressed, readerBehind: readerBehind) {
            case .idle:
                break
            case .running:
                running = true
            case .bodyTimedOut:
                services.timedOut("body_read")
                if let exchange = stream.exchange, !exchange.finished {
                    // Before the response: 408, whose end resets the stream (NO_ERROR); after it
                    // began: the exchange ends and the stream is reset (CANCEL).
                    exchange.bodyFailed(.timedOut)
                } else {
                    stream.body.fail(.timedOut)
                    reset(stream, .cancel)
                }
                if stream.clocks.isRunning { running = true }
            case .responseStalled:
                services.timedOut("send")
                reset(stream, .cancel)
                stream.exchange?.clientWentAway("send timed out")
            }
        }
        flushIfNeeded(context: context, force: true)
        if running { armStallTimer(context: context) }
    }
}
