internal import Logging
internal import MeridianConfig
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// Active health checks of one cluster: every `interval` plus a random share of `jitter` (so a
/// fleet of instances does not check in step), each endpoint gets `GET path` on a connection of
/// its own (never a pooled one: a check must see what a new connection sees) with `timeout`; the
/// statuses decide pass or fail, and `HealthCheckState` turns streaks into healthy/unhealthy.
/// Runs as a task off the request path; a check's I/O is on an event loop, its waiting is not.
struct HealthChecker: Sendable {
    let cluster: UpstreamCluster
    let settings: Configuration.Upstream.HealthCheck
    let group: any EventLoopGroup
    let logger: Logger

    func run() async {
        var random = SystemRandomNumberGenerator()
        let expectation = HealthCheckState.Expectation(statuses: settings.expectedStatuses)
        while !Task.isCancelled {
            await withTaskGroup(of: (Int, Int?).self) { tasks in
                for i in cluster.config.endpoints.indices {
                    tasks.addTask { (i, await self.check(endpoint: i)) }
                }
                for await (i, status) in tasks {
                    let passed = status.map(expectation.passes) ?? false
                    let change = cluster.health.state.withLockedValue { $0.checks.record(i, passed: passed) }
                    if let change {
                        let key = cluster.endpointKeys[i]
                        logger.warning(
                            change.healthy ? "upstream endpoint healthy" : "upstream endpoint unhealthy",
                            metadata: [
                                "cluster": "\(cluster.name)", "endpoint": "\(key)",
                                "check": "\(status.map { "status \($0)" } ?? "no answer within \(settings.timeout)")",
                            ]
                        )
                    }
                }
            }
            let delay = HealthCheckState.nextDelay(interval: settings.interval, jitter: settings.jitter, random: &random)
            try? await Task.sleep(for: delay)
        }
    }

    /// The status of one check, or nil when the endpoint did not answer in time (or at all).
    func check(endpoint i: Int) async -> Int? {
        guard let address = cluster.addresses.withLockedValue({ $0[i] }) else { return nil }
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: Int?.self)
        let host = settings.host ?? cluster.endpointKeys[i]
        let path = settings.path
        let timeout = TimeAmount(settings.timeout)
        let timer = eventLoop.scheduleTask(in: timeout) { promise.succeed(nil) }
        let tls = cluster.tls
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: i)) }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(StatusCatcher(promise: promise))
                }
            }
            .connect(to: address)
            .whenComplete { result in
                switch result {
                case .failure:
                    promise.succeed(nil)
                case .success(let channel):
                    var headers = HTTPHeaders()
                    headers.add(name: "host", value: host)
                    headers.add(name: "user-agent", value: "meridian-health-check")
                    headers.add(name: "connection", value: "close")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                }
            }
        let status = try? await promise.futureResult.get()
        timer.cancel()
        return status ?? nil
    }

    /// Completes the promise with the response's status (or nil when the connection ends first).
    final class StatusCatcher: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Int?>

        init(promise: EventLoopPromise<Int?>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data), head.status.code >= 200 {
                promise.succeed(Int(head.status.code))
            }
        }

        func channelInactive(context: ChannelHandlerContext) { promise.succeed(nil) }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.succeed(nil)
            context.close(promise: nil)
        }
    }
}
