import CTCMalloc

#if canImport(Glibc)
import Glibc
#endif

/// The process's allocator: gperftools' tcmalloc (`libtcmalloc_minimal`), linked into the binary, so its `malloc` and
/// `free` serve the whole process — the Swift runtime's object allocations, NIO's buffers, the C libraries.
///
/// Why: a proxied 1 KiB request makes ~16 `malloc`s and ~13 Swift object allocations, and glibc's allocator spent
/// ~5% of the proxy's CPU on them (`_int_malloc`, `_int_free`, `malloc_consolidate` once per request: a 2 KiB buffer
/// is a large-bin request, which consolidates the fast bins first). tcmalloc's per-thread caches serve those sizes
/// without locks or bin walks: `TARGET=proxy ROUNDS=3 bench/cpu-per-request.sh` (Intel Xeon, KVM, 2 vCPUs), the
/// same binary with each allocator preloaded, alternating: glibc 24.0–24.7 µs per request, tcmalloc 22.6–23.3,
/// jemalloc 23.7–23.8, mimalloc 23.4–23.8 (README, proxy section). It also replaces the glibc thresholds this binary
/// used to set with `mallopt` (mmap threshold 4 MiB, trim threshold 64 MiB: a 100 KiB body, rounded up to 128 KiB,
/// was mapped and unmapped per response under glibc's defaults): tcmalloc serves blocks up to 256 KiB from its size
/// classes and larger ones from its page heap, and hands free pages back to the kernel gradually
/// (`TCMALLOC_RELEASE_RATE`), never per allocation. Operators tune it with gperftools' environment variables
/// (`TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES`, `TCMALLOC_RELEASE_RATE`, ...).
enum Allocator {
    /// Whether tcmalloc is the `malloc` the process calls: false when another allocator was put ahead of it (an
    /// `LD_PRELOAD` of jemalloc, say), which Meridian then uses as it comes. Allocates and frees 1 MiB once, and sees
    /// whether tcmalloc counted it.
    static func tcmallocServesMalloc() -> Bool {
        let size = 1 << 20
        guard let before = allocatedBytes() else { return false }
        guard let block = malloc(size) else { return false }
        defer { free(block) }
        // (The block is handed to a call the optimizer cannot see through, so the pair is not elided.)
        guard malloc_usable_size(block) >= size, let after = allocatedBytes() else { return false }
        return after >= before + size
    }

    /// tcmalloc's count of bytes the application holds (`generic.current_allocated_bytes`).
    static func allocatedBytes() -> Int? {
        var value = 0
        guard MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &value) == 1 else { return nil }
        return value
    }
}
