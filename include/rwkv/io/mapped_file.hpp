// rwkv/io/mapped_file.hpp — a read-only view of a whole file's bytes, memory-mapped with POSIX mmap,
// or a non-owning view of caller-owned memory (in-memory assets, fuzzing).
//
// The mapping is private and read-only; its address never changes, so spans into it stay valid when
// the mapped_file is moved. Shrinking the file on disk while it is mapped makes later reads fault
// (SIGBUS): checkpoints must not be rewritten in place while loaded (write_safetensors renames).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include "rwkv/core/error.hpp"

namespace rwkv::io {

class mapped_file {
public:
    mapped_file() = default;

    // Maps the whole file read-only. An empty file gives an empty span. Throws io_error naming the
    // path and the system error when the file cannot be opened, is not a regular file, or cannot be
    // mapped.
    static mapped_file open(const std::filesystem::path& p) {
        const std::string name = p.string();
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw io_error(name + ": cannot open: " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int err = errno;
            ::close(fd);
            throw io_error(name + ": cannot stat: " + std::strerror(err));
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            throw io_error(name + ": cannot map: not a regular file");
        }
        mapped_file f;
        f.path_ = p;
        const auto size = static_cast<std::size_t>(st.st_size);
        if (size > 0) {
            void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (addr == MAP_FAILED) {
                const int err = errno;
                ::close(fd);
                throw io_error(name + ": cannot mmap " + std::to_string(size) + " bytes: " + std::strerror(err));
            }
            ::madvise(addr, size, MADV_WILLNEED);  // hints: failure is harmless
#ifdef MADV_HUGEPAGE
            ::madvise(addr, size, MADV_HUGEPAGE);  // large folios where the file system supports them
#endif
            f.data_ = static_cast<const std::byte*>(addr);
            f.size_ = size;
            f.owned_ = true;
        }
        ::close(fd);  // the mapping keeps the file referenced
        return f;
    }

    // Wraps memory owned by the caller, which must outlive this object and everything read from it.
    // `display_name` stands in for the path in error messages.
    static mapped_file view(std::span<const std::byte> bytes, std::string display_name) {
        mapped_file f;
        f.path_ = std::move(display_name);
        f.data_ = bytes.data();
        f.size_ = bytes.size();
        f.owned_ = false;
        return f;
    }

    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;

    mapped_file(mapped_file&& other) noexcept
        : path_(std::move(other.path_)),
          data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          owned_(std::exchange(other.owned_, false)) {}

    mapped_file& operator=(mapped_file&& other) noexcept {
        if (this != &other) {
            release();
            path_ = std::move(other.path_);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
            owned_ = std::exchange(other.owned_, false);
        }
        return *this;
    }

    ~mapped_file() { release(); }

    std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    const std::filesystem::path& path() const noexcept { return path_; }

    // Tells the OS that the whole pages inside `range` (a part of this mapping) are no longer
    // needed: a tensor converted or quantized at load then costs no resident memory twice. The
    // mapping stays valid (a later read faults the page back in from the file).
    void drop_pages(std::span<const std::byte> range) const noexcept {
        if (!owned_ || range.empty() || range.data() < data_ || range.data() + range.size() > data_ + size_) return;
        const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
        const auto begin = (reinterpret_cast<std::uintptr_t>(range.data()) + page - 1) / page * page;
        const auto end = (reinterpret_cast<std::uintptr_t>(range.data()) + range.size()) / page * page;
        if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }

private:
    void release() noexcept {
        if (owned_ && data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = nullptr;
        size_ = 0;
        owned_ = false;
    }

    std::filesystem::path path_;
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    bool owned_ = false;
};

}  // namespace rwkv::io
