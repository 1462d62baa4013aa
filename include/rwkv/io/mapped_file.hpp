// rwkv/io/mapped_file.hpp — a read-only view of a whole file's bytes, memory-mapped with POSIX mmap,
// or a non-owning view of caller-owned memory (in-memory assets, fuzzing).
//
// The mapping is private and read-only; its address never changes, so spans into it stay valid when
// the mapped_file is moved. Shrinking the file on disk while it is mapped makes later reads fault
// (SIGBUS): checkpoints must not be rewritten in place while loaded (write_safetensors renames).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include "rwkv/core/error.hpp"
#include "rwkv/core/platform.hpp"

namespace rwkv::io {

class mapped_file {
public:
    mapped_file() = default;

    // Maps the whole file read-only. An empty file gives an empty span. Throws io_error naming the
    // path and the system error when the file cannot be opened, is not a regular file, or cannot be
    // mapped.
    static mapped_file open(const std::filesystem::path& p) {
        const std::string name = p.string();
        const int fd = platform::open_read_only(p.c_str());
        if (fd < 0) {
            const int err = errno;
            throw io_error(name + ": cannot open: " + platform::error_message(err));
        }
        platform::file_status st;
        if (!platform::stat_file(fd, st)) {
            const int err = errno;
            platform::close_file(fd);
            throw io_error(name + ": cannot stat: " + platform::error_message(err));
        }
        if (!st.regular) {
            platform::close_file(fd);
            throw io_error(name + ": cannot map: not a regular file");
        }
        mapped_file f;
        f.path_ = p;
        const std::size_t size = st.size;
        if (size > 0) {
            const void* addr = platform::map_file_read_only(fd, size);
            if (addr == nullptr) {
                const int err = errno;
                platform::close_file(fd);
                throw io_error(name + ": cannot mmap " + std::to_string(size) + " bytes: " + platform::error_message(err));
            }
            platform::advise_will_need(addr, size);  // hints: failure is harmless
            platform::advise_huge_pages(addr, size);  // large folios where the file system supports them
            f.data_ = static_cast<const std::byte*>(addr);
            f.size_ = size;
            f.owned_ = true;
        }
        platform::close_file(fd);  // the mapping keeps the file referenced
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
        const auto page = static_cast<std::uintptr_t>(platform::page_size());
        const auto begin = (reinterpret_cast<std::uintptr_t>(range.data()) + page - 1) / page * page;
        const auto end = (reinterpret_cast<std::uintptr_t>(range.data()) + range.size()) / page * page;
        if (end > begin) platform::advise_dont_need(reinterpret_cast<const void*>(begin), end - begin);
    }

private:
    void release() noexcept {
        if (owned_ && data_ != nullptr) platform::unmap(data_, size_);
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
