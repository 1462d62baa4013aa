// rwkv/core/platform.hpp — the operating-system calls the library makes, in one place.
//
// Memory advice, anonymous and file mappings, page protection, page size and the file calls that
// mapping needs. Everything else in the library reaches the OS through these functions, so a port
// (or a build where one of them is missing) changes this file only. Two implementations: POSIX
// (Linux, macOS) and Win32 (`_WIN32`: MinGW-w64 is built and tested under Wine, docs/windows.md).
//
// The functions report failure the POSIX way the callers already expect: a null pointer, −1 or
// false, with errno left as the failing call set it (call error_message(errno) for the text); on
// Windows a failing Win32 call's GetLastError() is translated to the nearest errno value.
// Advice (advise_*) is a hint: it never fails visibly, and is a no-op where the OS lacks it.
// Files are C runtime descriptors (int) on both.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#ifdef _WIN32
#include "rwkv/core/platform_win32.hpp"
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rwkv::platform {

// ---- pages -------------------------------------------------------------------------------------

// The size of a virtual-memory page (4 KiB on most machines, 16 KiB on Apple silicon).
inline std::size_t page_size() noexcept {
    static const std::size_t size = [] {
        const long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<std::size_t>(s) : std::size_t{4096};
    }();
    return size;
}

// Asks for transparent huge pages over [p, p + bytes) (whole-page range). Linux only; elsewhere a no-op.
inline void advise_huge_pages(const void* p, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
    ::madvise(const_cast<void*>(p), bytes, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

// Says [p, p + bytes) will be read soon (read-ahead for a file mapping).
inline void advise_will_need(const void* p, std::size_t bytes) noexcept {
    ::madvise(const_cast<void*>(p), bytes, MADV_WILLNEED);
}

// Says the pages of [p, p + bytes) (page-aligned) are not needed: they stop being resident; a file
// mapping reads them back from the file on the next access, an anonymous private one gives zeros.
inline void advise_dont_need(const void* p, std::size_t bytes) noexcept {
    ::madvise(const_cast<void*>(p), bytes, MADV_DONTNEED);
}

// What a page may be used for.
enum class page_access { none, read, read_write };

inline int protection_flags(page_access a) noexcept {
    switch (a) {
        case page_access::none: return PROT_NONE;
        case page_access::read: return PROT_READ;
        case page_access::read_write: return PROT_READ | PROT_WRITE;
    }
    return PROT_NONE;
}

// Maps `bytes` of fresh zero pages, private to this process. Returns nullptr on failure (errno set).
// `reserve_only`: the range need not be backed by swap until touched (a large address-space
// reservation that is committed a piece at a time).
inline void* map_anonymous(std::size_t bytes, page_access access, bool reserve_only = false) noexcept {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_NORESERVE
    if (reserve_only) flags |= MAP_NORESERVE;
#else
    (void)reserve_only;
#endif
    void* p = ::mmap(nullptr, bytes, protection_flags(access), flags, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
}

// Maps `bytes` of fresh zero pages, readable and writable, with the pages made resident up front
// where the OS can (MAP_POPULATE): first-touch page faults stay out of what a benchmark measures.
inline void* map_anonymous_populated(std::size_t bytes) noexcept {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE;
#endif
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
}

// Maps the first `bytes` of an open file read-only and private. Returns nullptr on failure (errno set).
inline const void* map_file_read_only(int fd, std::size_t bytes) noexcept {
    void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    return p == MAP_FAILED ? nullptr : p;
}

// Unmaps what map_anonymous or map_file_read_only returned (the same length).
inline void unmap(const void* p, std::size_t bytes) noexcept { ::munmap(const_cast<void*>(p), bytes); }

// Changes the access of the whole pages [p, p + bytes) (p page-aligned). Returns false on failure.
inline bool protect(void* p, std::size_t bytes, page_access access) noexcept {
    return ::mprotect(p, bytes, protection_flags(access)) == 0;
}

// ---- files -------------------------------------------------------------------------------------

// Opens a file for reading; the descriptor is not inherited by child processes. −1 on failure.
inline int open_read_only(const char* path) noexcept { return ::open(path, O_RDONLY | O_CLOEXEC); }

inline void close_file(int fd) noexcept { ::close(fd); }

struct file_status {
    bool regular = false;  // a plain file (not a directory, device, pipe or socket)
    std::size_t size = 0;  // bytes
};

// The type and size of an open file. Returns false on failure (errno set).
inline bool stat_file(int fd, file_status& out) noexcept {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    out.regular = S_ISREG(st.st_mode);
    out.size = static_cast<std::size_t>(st.st_size);
    return true;
}

// Creates a new file for writing (fails with EEXIST when it exists; mode 0666 less the umask); the
// descriptor is not inherited by child processes. −1 on failure.
inline int create_new_file(const char* path) noexcept {
    return ::open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
}

// Writes all of [data, data + n), retrying short writes and EINTR. false on failure (errno set).
inline bool write_all(int fd, const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// Flushes a file's data to the device. false on failure (errno set).
inline bool sync_file(int fd) noexcept { return ::fsync(fd) == 0; }

// Closes a file, reporting whether the close (the last chance to see a write error) succeeded.
inline bool close_file_checked(int fd) noexcept { return ::close(fd) == 0; }

// Removes a file; errors are ignored (used to clean up after a failure).
inline void remove_file(const char* path) noexcept { ::unlink(path); }

// Renames a file atomically within one file system. false on failure (errno set).
inline bool rename_file(const char* from, const char* to) noexcept { return std::rename(from, to) == 0; }

// This process's id (to make temporary names unique).
inline std::uint64_t process_id() noexcept { return static_cast<std::uint64_t>(::getpid()); }

// Whether standard error is a terminal (progress bars only draw there).
inline bool stderr_is_terminal() noexcept { return ::isatty(STDERR_FILENO) == 1; }

// The peak resident set (peak working set) of this process in bytes; 0 where unknown.
inline std::size_t peak_resident_bytes() noexcept {
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0) return static_cast<std::size_t>(ru.ru_maxrss) * 1024;
    return 0;
}

// The system's text for an errno value.
inline std::string error_message(int err) { return std::strerror(err); }

// ---- sleeping on an atomic word (the thread pool) -------------------------------------------------

// Blocks while `word` holds `old`; may return early (callers re-check). wake_one/wake_all wake
// sleepers of that word. Here: C++20 atomic wait/notify (a futex on Linux).
template <class T>
void wait_while_equal(const std::atomic<T>& word, T old) noexcept { word.wait(old, std::memory_order_acquire); }
template <class T>
void wake_one(std::atomic<T>& word) noexcept { word.notify_one(); }
template <class T>
void wake_all(std::atomic<T>& word) noexcept { word.notify_all(); }

}  // namespace rwkv::platform

#endif  // _WIN32
