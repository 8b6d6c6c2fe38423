/// One endpoint's latency estimate, "peak EWMA" as Finagle and Linkerd compute it: a sample above
/// the estimate replaces it at once; a sample below it is averaged in with a weight that grows with
/// the time since the last sample; and between samples the estimate decays towards zero.
///
/// The peak makes the balancer react within one response to an endpoint turning slow (a plain
/// average would need many), while a single fast response cannot hide a slow endpoint. The decay
/// is what lets a slow endpoint back in: once nobody sends to it, it gets no samples, and without
/// decay it would stay "slow" forever. With a window `tau`, a sample `t` after the last weighs
/// `1 - e^(-t/tau)`, so the estimate tracks the last `tau` of traffic whatever the request rate.
///
/// Times are seconds as `Double`: converted once per response, because `Duration` arithmetic
/// (128-bit, overflow-checked) cost more than the rest of a pick.
///
/// Finagle `com.twitter.finagle.loadbalancer.PeakEwma`; Linkerd / tower `tower::load::PeakEwma`.
struct PeakEWMA {
    /// The estimate in seconds as of `stamp`; 0 until the first sample.
    private(set) var cost: Double = 0
    /// Seconds since the balancer's time origin.
    private(set) var stamp: Double = 0
    private(set) var hasSample = false

    /// The estimate decayed to `now`: what an endpoint that got no samples since `stamp` is worth.
    func cost(at now: Double, tau: Double) -> Double {
        cost * Self.expNegative((now - stamp) / tau)
    }

    mutating func observe(_ sample: Double, at now: Double, tau: Double) {
        let sample = max(sample, 0)
        let weight = Self.expNegative((now - stamp) / tau)
        if !hasSample || sample > cost * weight {
            cost = sample
        } else {
            cost = cost * weight + sample * (1 - weight)
        }
        stamp = max(stamp, now)
        hasSample = true
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    /// `e^-x`, 1 for `x <= 0`. The standard library has no `exp` (it lives in Glibc/Darwin, which
    /// this module does not import), so: `x = k·ln 2 + r` with `|r| <= ln 2 / 2`, the degree-12
    /// Taylor polynomial of `e^-r` in Horner form (coefficients 1/n!; error below 1e-15), and `2^-k`
    /// by building the exponent.
    static func expNegative(_ x: Double) -> Double {
        guard x > 0 else { return 1 }
        guard x < 700 else { return 0 }
        let ln2 = 0.693_147_180_559_945_3
        // Rounded by truncating `+ 0.5` (x > 0): `rounded()` becomes a call to libm's `round`,
        // which a target importing only the standard library does not link.
        let k = Int(x / ln2 + 0.5)
        let t = Double(k) * ln2 - x
        var p = 2.087_675_698_786_81e-9
        p = p * t + 2.505_210_838_544_172e-8
        p = p * t + 2.755_731_922_398_589e-7
        p = p * t + 2.755_731_922_398_589_3e-6
        p = p * t + 2.480_158_730_158_73e-5
        p = p * t + 1.984_126_984_126_984e-4
        p = p * t + 1.388_888_888_888_889e-3
        p = p * t + 8.333_333_333_333_333e-3
        p = p * t + 4.166_666_666_666_666_4e-2
        p = p * t + 0.166_666_666_666_666_66
        p = p * t + 0.5
        p = p * t + 1
        p = p * t + 1
        return p * Double(sign: .plus, exponent: -k, significand: 1)
    }
}
