/// `maglev`: the request's key picks a slot in a shared `MaglevTable`; when that slot's endpoint
/// is ineligible, the next slots in turn until an eligible one. O(1) when the endpoint is eligible.
///
/// Requests without a key get a weighted random endpoint: they have no affinity to keep.
public final class MaglevBalancer: LoadBalancer {
    public let table: MaglevTable
    private var random: SplitMix64
    private var probe: ForwardProbe

    public init(table: MaglevTable, random: SplitMix64) {
        self.table = table
        self.random = random
        self.probe = ForwardProbe(endpointCount: table.endpoints.count)
    }

    public var endpoints: [BalancerEndpoint] { table.endpoints }

    public func pick(hash: UInt64?, isEligible: (Int) -> Bool) -> Int? {
        guard let hash else {
            return table.fallback.draw(using: &random, isEligible: isEligible)
        }
        guard !table.slots.isEmpty else { return nil }
        return probe.firstEligible(in: table.slots, from: table.slot(for: hash), isEligible: isEligible)
    }

    public func started(_ endpoint: Int) {}

    public func finished(_ endpoint: Int, latency: Duration?, now: @autoclosure () -> Duration) {}
}
