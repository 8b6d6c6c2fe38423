// preadv2 with RWF_NOWAIT (Linux 4.14+, glibc 2.26+), which Swift's Glibc module does not import (it is behind
// _GNU_SOURCE): a read that answers only from the page cache and fails with EAGAIN instead of waiting for the disk.
#include <sys/types.h>
#include <sys/uio.h>

extern ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags);

/// Reads up to `count` bytes at `offset` without blocking on the disk: the bytes read (possibly fewer than asked,
/// when only part is cached), 0 at the end of the file, or -1 with errno (EAGAIN: not cached; EOPNOTSUPP or
/// ENOSYS: the file system or kernel cannot say, read another way).
static inline ssize_t CFileIO_preadCached(int fd, void *buffer, size_t count, off_t offset) {
    struct iovec iov = { buffer, count };
    return preadv2(fd, &iov, 1, offset, 0x00000008 /* RWF_NOWAIT */);
}
