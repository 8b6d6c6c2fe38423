/// The endpoints an exchange has tried, in order. The first two are held inline: nearly every request makes
/// one try, and an array would be an allocation per proxied request.
struct TriedEndpoints {
    private var first = -1
    private var second = -1
    private var rest: [Int] = []
    private(set) var count = 0

    static let none = TriedEndpoints()

    var isEmpty: Bool { count == 0 }

    mutating func append(_ endpoint: Int) {
        switch count {
        case 0: first = endpoint
        case 1: second = endpoint
        default: rest.append(endpoint)
        }
        count += 1
    }

    func contains(_ endpoint: Int) -> Bool {
        guard count > 0 else { return false }
        return first == endpoint || (count > 1 && second == endpoint) || (count > 2 && rest.contains(endpoint))
    }
}
