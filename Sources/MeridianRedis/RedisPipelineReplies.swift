internal import NIOCore

/// The replies of commands sent together (``RedisClient/pipeline(_:key:timeout:on:_:)``), gathered without a
/// future per command: the connection hands each reply to its slot, and `completion` runs once, when every
/// command has answered or the first one failed (timeout, connection lost). Confined to the commands' event
/// loop, which is what makes the unchecked `Sendable` safe.
final class RedisPipelineReplies: @unchecked Sendable {
    private var values: [RedisValue]
    private var remaining: Int
    private var completion: (@Sendable (Result<[RedisValue], any Error>) -> Void)?
    private let started: NIODeadline
    private let observer: (any RedisObserver)?

    init(
        count: Int, started: NIODeadline, observer: (any RedisObserver)?,
        completion: @escaping @Sendable (Result<[RedisValue], any Error>) -> Void
    ) {
        precondition(count > 0)
        self.values = Array(repeating: .null, count: count)
        self.remaining = count
        self.started = started
        self.observer = observer
        self.completion = completion
    }

    func receive(_ result: Result<RedisValue, any Error>, at index: Int) {
        observer?.commandFinished(result, since: started)
        guard let completion else { return }  // an earlier command failed: the caller has its answer
        switch result {
        case .success(let value):
            values[index] = value
            remaining -= 1
            guard remaining == 0 else { return }
            self.completion = nil
            let all = values
            values = []
            completion(.success(all))
        case .failure(let error):
            self.completion = nil
            values = []
            completion(.failure(error))
        }
    }
}
