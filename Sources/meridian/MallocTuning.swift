import CMalloc

/// glibc malloc's thresholds, set once at start: blocks up to 4 MiB come from the heap (not from `mmap`), and the
/// heap's top is given back to the kernel only past 64 MiB free.
///
/// With glibc's defaults (128 KiB, moved at run time by its dynamic threshold) a 100 KiB response body — which NIO
/// rounds up to a 128 KiB buffer — was mapped and unmapped, or the heap's top trimmed and grown again, as 32
/// responses came and went: page faults were ~14–23% of the server's samples for 100 KiB L2 cache hits, and the
/// uncached 100 KiB proxy's p99 was ~40 ms. With these settings (bench/cache.sh, AMD EPYC, same hour): L2 hit
/// 9,940 → 16,404 req/s, the uncached proxy 14,415 → 16,975 req/s and p99 40 ms → 3 ms. The cost: up to 64 MiB of
/// freed memory can stay in the process, as with most allocators built for servers.
///
/// An operator who sets `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` keeps their own values (glibc reads
/// them at start; `mallopt` here would override them).
enum MallocTuning {
    static let mmapThreshold: Int32 = 4 << 20
    static let trimThreshold: Int32 = 64 << 20

    /// Sets the thresholds unless the environment does; whether it did.
    @discardableResult
    static func apply(environment: [String: String]) -> Bool {
        guard environment["MALLOC_MMAP_THRESHOLD_"] == nil, environment["MALLOC_TRIM_THRESHOLD_"] == nil else { return false }
        // mallopt returns 1 on success; these values are in range, so a failure would leave glibc's defaults, which
        // are still correct, only slower.
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
        _ = mallopt(M_TRIM_THRESHOLD, trimThreshold)
        return true
    }
}
