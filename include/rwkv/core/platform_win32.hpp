// rwkv/core/platform_win32.hpp — the Win32 half of core/platform.hpp (include that, not this).
//
// The same functions, signatures and failure contract as the POSIX half: files are C runtime
// descriptors (_open), mappings are Win32 views (CreateFileMapping/MapViewOfFile) and virtual
// memory (VirtualAlloc). A failing Win32 call leaves errno set to the nearest errno value of its
// GetLastError(), so callers build the same typed errors with error_message(errno) as on Linux.
// Windows has no madvise: huge-page and read-ahead advice are no-ops; advise_dont_need decommits
// and recommits anonymous pages (zeros afterwards, as on Linux) and drops a file view's pages from
// the working set (read back from the file on the next access).
#pragma once

#ifndef _WIN32
#error "rwkv/core/platform_win32.hpp is the Windows implementation of rwkv/core/platform.hpp"
#endif

// <windows.h> without min/max macros or the rarely used parts; the choices are undone afterwards
// so a program including windows.h itself later sees what it asked for.
#ifndef NOMINMAX
#define NOMINMAX
#define RWKV_PLATFORM_UNDEF_NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#define RWKV_PLATFORM_UNDEF_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <psapi.h>
#ifdef RWKV_PLATFORM_UNDEF_NOMINMAX
#undef NOMINMAX
#undef RWKV_PLATFORM_UNDEF_NOMINMAX
#endif
#ifdef RWKV_PLATFORM_UNDEF_LEAN_AND_MEAN
#undef WIN32_LEAN_AND_MEAN
#undef RWKV_PLATFORM_UNDEF_LEAN_AND_MEAN
#endif

#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace rwkv::platform {

namespace win32 {

// The errno value nearest to a Win32 error code (GetLastError()).
inline int errno_of(DWORD e) noexcept {
    switch (e) {
        case ERROR_FILE_NOT_FOUND:
        case ERROR_PATH_NOT_FOUND:
        case ERROR_INVALID_DRIVE:
        case ERROR_BAD_NETPATH:
        case ERROR_BAD_PATHNAME: return ENOENT;
        case ERROR_ACCESS_DENIED:
        case ERROR_SHARING_VIOLATION:
        case ERROR_LOCK_VIOLATION:
        case ERROR_WRITE_PROTECT: return EACCES;
        case ERROR_NOT_ENOUGH_MEMORY:
        case ERROR_OUTOFMEMORY:
        case ERROR_COMMITMENT_LIMIT: return ENOMEM;
        case ERROR_FILE_EXISTS:
        case ERROR_ALREADY_EXISTS: return EEXIST;
        case ERROR_DISK_FULL:
        case ERROR_HANDLE_DISK_FULL: return ENOSPC;
        case ERROR_INVALID_HANDLE: return EBADF;
        case ERROR_INVALID_PARAMETER:
        case ERROR_INVALID_ADDRESS: return EINVAL;
        case ERROR_FILE_INVALID:
        case ERROR_MAPPED_ALIGNMENT: return ENODEV;
        default: return EIO;
    }
}

// Sets errno from the calling thread's last Win32 error.
inline void set_errno_from_last_error() noexcept { errno = errno_of(::GetLastError()); }

}  // namespace win32

// ---- pages -------------------------------------------------------------------------------------

// The size of a virtual-memory page (4 KiB on x64 Windows). Mappings start on 64 KiB boundaries
// (the allocation granularity), which is a multiple.
inline std::size_t page_size() noexcept {
    static const std::size_t size = [] {
        SYSTEM_INFO info{};
        ::GetSystemInfo(&info);
        return info.dwPageSize > 0 ? static_cast<std::size_t>(info.dwPageSize) : std::size_t{4096};
    }();
    return size;
}

// Transparent huge pages do not exist on Windows (large pages need a privilege): a no-op.
inline void advise_huge_pages(const void* p, std::size_t bytes) noexcept {
    (void)p;
    (void)bytes;
}

// Read-ahead advice: a no-op (the file cache reads ahead on its own).
inline void advise_will_need(const void* p, std::size_t bytes) noexcept {
    (void)p;
    (void)bytes;
}

// Says the pages of [p, p + bytes) (page-aligned) are not needed. Anonymous memory is decommitted
// and committed again with its protection (zeros on the next access, as MADV_DONTNEED gives); a
// file view's pages leave the working set (VirtualUnlock of unlocked pages), read back on access.
inline void advise_dont_need(const void* p, std::size_t bytes) noexcept {
    if (bytes == 0) return;
    void* const q = const_cast<void*>(p);
    MEMORY_BASIC_INFORMATION info{};
    if (::VirtualQuery(q, &info, sizeof info) == 0) return;
    if (info.Type == MEM_PRIVATE && info.State == MEM_COMMIT) {
        const DWORD protection = info.Protect;
        if (::VirtualFree(q, bytes, MEM_DECOMMIT)) ::VirtualAlloc(q, bytes, MEM_COMMIT, protection);
    } else if (info.Type == MEM_MAPPED) {
        ::VirtualUnlock(q, bytes);  // fails with ERROR_NOT_LOCKED after trimming the pages: expected
    }
    ::SetLastError(ERROR_SUCCESS);
}

// What a page may be used for.
enum class page_access { none, read, read_write };

inline DWORD protection_flags(page_access a) noexcept {
    switch (a) {
        case page_access::none: return PAGE_NOACCESS;
        case page_access::read: return PAGE_READONLY;
        case page_access::read_write: return PAGE_READWRITE;
    }
    return PAGE_NOACCESS;
}

// Maps `bytes` of fresh zero pages, private to this process. Returns nullptr on failure (errno set).
// `reserve_only` with page_access::none reserves address space only: protect() commits pages as it
// opens them (Windows cannot change the protection of reserved, uncommitted pages).
inline void* map_anonymous(std::size_t bytes, page_access access, bool reserve_only = false) noexcept {
    const DWORD type = reserve_only && access == page_access::none ? MEM_RESERVE : MEM_RESERVE | MEM_COMMIT;
    void* p = ::VirtualAlloc(nullptr, bytes, type, protection_flags(access));
    if (p == nullptr) win32::set_errno_from_last_error();
    return p;
}

// Maps `bytes` of fresh zero pages, readable and writable (committed; Windows has no populate flag,
// so pages become resident on first touch).
inline void* map_anonymous_populated(std::size_t bytes) noexcept {
    return map_anonymous(bytes, page_access::read_write);
}

// Maps the first `bytes` of an open file read-only. Returns nullptr on failure (errno set).
inline const void* map_file_read_only(int fd, std::size_t bytes) noexcept {
    const auto file = reinterpret_cast<HANDLE>(::_get_osfhandle(fd));
    if (file == INVALID_HANDLE_VALUE) {
        errno = EBADF;
        return nullptr;
    }
    HANDLE mapping = ::CreateFileMappingW(file, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (mapping == nullptr) {
        win32::set_errno_from_last_error();
        return nullptr;
    }
    const void* p = ::MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, bytes);
    if (p == nullptr) win32::set_errno_from_last_error();
    ::CloseHandle(mapping);  // the view keeps the mapping object alive
    return p;
}

// Unmaps what map_anonymous or map_file_read_only returned (the same length).
inline void unmap(const void* p, std::size_t bytes) noexcept {
    (void)bytes;  // Windows releases whole allocations / views
    void* const q = const_cast<void*>(p);
    MEMORY_BASIC_INFORMATION info{};
    if (::VirtualQuery(q, &info, sizeof info) == 0) return;
    if (info.Type == MEM_MAPPED) ::UnmapViewOfFile(q);
    else ::VirtualFree(q, 0, MEM_RELEASE);
}

// Changes the access of the whole pages [p, p + bytes) (p page-aligned). Returns false on failure
// (errno set). Opening pages commits them (reserved pages of a reserve_only mapping); closing them
// changes the protection of the committed ones (reserved pages are inaccessible already).
inline bool protect(void* p, std::size_t bytes, page_access access) noexcept {
    if (bytes == 0) return true;
    if (access != page_access::none) {
        // MEM_COMMIT of committed pages keeps their contents and sets the protection.
        if (::VirtualAlloc(p, bytes, MEM_COMMIT, protection_flags(access)) != nullptr) return true;
        win32::set_errno_from_last_error();
        return false;
    }
    auto* at = static_cast<unsigned char*>(p);
    auto* const end = at + bytes;
    while (at < end) {
        MEMORY_BASIC_INFORMATION info{};
        if (::VirtualQuery(at, &info, sizeof info) == 0) {
            win32::set_errno_from_last_error();
            return false;
        }
        auto* const region_end = static_cast<unsigned char*>(info.BaseAddress) + info.RegionSize;
        const std::size_t n = static_cast<std::size_t>((region_end < end ? region_end : end) - at);
        if (info.State == MEM_COMMIT) {
            DWORD old = 0;
            if (!::VirtualProtect(at, n, PAGE_NOACCESS, &old)) {
                win32::set_errno_from_last_error();
                return false;
            }
        } else if (info.State == MEM_FREE) {
            errno = ENOMEM;  // as mprotect on an unmapped range
            return false;
        }
        at += n;
    }
    return true;
}

// ---- files -------------------------------------------------------------------------------------

// Opens a file for reading (binary); the descriptor is not inherited by child processes. −1 on
// failure. The wide overload takes std::filesystem::path::c_str() (UTF-16 on Windows).
inline int open_read_only(const char* path) noexcept { return ::_open(path, _O_RDONLY | _O_BINARY | _O_NOINHERIT); }
inline int open_read_only(const wchar_t* path) noexcept {
    return ::_wopen(path, _O_RDONLY | _O_BINARY | _O_NOINHERIT);
}

inline void close_file(int fd) noexcept { ::_close(fd); }

struct file_status {
    bool regular = false;  // a plain file (not a directory, device, pipe or socket)
    std::size_t size = 0;  // bytes
};

// The type and size of an open file. Returns false on failure (errno set).
inline bool stat_file(int fd, file_status& out) noexcept {
    struct _stat64 st {};
    if (::_fstat64(fd, &st) != 0) return false;
    out.regular = (st.st_mode & _S_IFMT) == _S_IFREG;
    out.size = static_cast<std::size_t>(st.st_size);
    return true;
}

// Creates a new file for writing (binary; fails with EEXIST when it exists); the descriptor is not
// inherited by child processes. −1 on failure.
inline int create_new_file(const char* path) noexcept {
    return ::_open(path, _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY | _O_NOINHERIT, _S_IREAD | _S_IWRITE);
}

// Writes all of [data, data + n), retrying short writes and EINTR. false on failure (errno set).
inline bool write_all(int fd, const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
        const unsigned chunk = n < std::size_t{1} << 30 ? static_cast<unsigned>(n) : 1u << 30;
        const int w = ::_write(fd, p, chunk);
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
inline bool sync_file(int fd) noexcept { return ::_commit(fd) == 0; }

// Closes a file, reporting whether the close (the last chance to see a write error) succeeded.
inline bool close_file_checked(int fd) noexcept { return ::_close(fd) == 0; }

// Removes a file; errors are ignored (used to clean up after a failure).
inline void remove_file(const char* path) noexcept { ::_unlink(path); }

// Renames a file, replacing `to` when it exists (std::rename refuses to on Windows). Atomic on
// NTFS within one volume. false on failure (errno set). Fails while `to` is mapped (in use).
inline bool rename_file(const char* from, const char* to) noexcept {
    if (::MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) return true;
    win32::set_errno_from_last_error();
    return false;
}

// This process's id (to make temporary names unique).
inline std::uint64_t process_id() noexcept { return static_cast<std::uint64_t>(::GetCurrentProcessId()); }

// Whether standard error is a terminal (progress bars only draw there).
inline bool stderr_is_terminal() noexcept { return ::_isatty(::_fileno(stderr)) != 0; }

// The peak resident set (peak working set) of this process in bytes; 0 where unknown.
inline std::size_t peak_resident_bytes() noexcept {
    PROCESS_MEMORY_COUNTERS counters{};
    counters.cb = sizeof counters;
    if (::K32GetProcessMemoryInfo(::GetCurrentProcess(), &counters, sizeof counters)) return counters.PeakWorkingSetSize;
    return 0;
}

// The system's text for an errno value.
inline std::string error_message(int err) { return std::strerror(err); }

// ---- sleeping on an atomic word (the thread pool) -------------------------------------------------

// Blocks while `word` holds `old`; may return early (callers re-check). WaitOnAddress and
// WakeByAddress* (Windows 8+, libsynchronization) rather than std::atomic::wait: without a futex,
// libstdc++ 12 falls back to a waiter table that lost wake-ups under Wine here (docs/windows.md).
template <class T>
void wait_while_equal(const std::atomic<T>& word, T old) noexcept {
    static_assert(std::atomic<T>::is_always_lock_free && sizeof(std::atomic<T>) == sizeof(T),
                  "WaitOnAddress compares the atomic's bytes with the value's");
    ::WaitOnAddress(const_cast<std::atomic<T>*>(&word), &old, sizeof(T), INFINITE);
}
template <class T>
void wake_one(std::atomic<T>& word) noexcept { ::WakeByAddressSingle(&word); }
template <class T>
void wake_all(std::atomic<T>& word) noexcept { ::WakeByAddressAll(&word); }

}  // namespace rwkv::platform
