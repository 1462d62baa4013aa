// rwkv/io/atomic_write.hpp — writing a file all or nothing (the converters' output files, by the
// contract that output files are written atomically): bytes go to a new temporary beside the target
// (same file system, so the final rename is atomic), which is flushed, closed and renamed over the
// target only by commit(). Any failure, or destruction before commit(), removes the temporary; errors
// are io_error naming the target, the temporary and the step that failed.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "rwkv/core/error.hpp"
#include "rwkv/core/platform.hpp"

namespace rwkv::io {

class atomic_file_writer {
public:
    // Creates the temporary "<target>.tmp-XXXXXXXX" (a fresh name: never opens an existing file).
    explicit atomic_file_writer(std::string target) : target_(std::move(target)) {
        static std::atomic<std::uint64_t> counter{0};
        std::mt19937_64 rng(std::random_device{}() ^ (platform::process_id() << 32) ^ counter.fetch_add(1));
        for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
            static constexpr char hex[] = "0123456789abcdef";
            tmp_ = target_ + ".tmp-";
            const std::uint64_t r = rng();
            for (int i = 0; i < 8; ++i) tmp_ += hex[(r >> (4 * i)) & 15u];
            fd_ = platform::create_new_file(tmp_.c_str());
            if (fd_ < 0 && errno != EEXIST) break;
        }
        if (fd_ < 0)
            throw io_error(target_ + ": cannot create temporary file " + tmp_ + ": " + std::strerror(errno));
    }
    atomic_file_writer(const atomic_file_writer&) = delete;
    atomic_file_writer& operator=(const atomic_file_writer&) = delete;
    ~atomic_file_writer() {
        if (fd_ >= 0) platform::close_file(fd_);
        if (!committed_) platform::remove_file(tmp_.c_str());
    }

    void write(const void* data, std::size_t n) {
        if (!platform::write_all(fd_, data, n)) fail("write " + tmp_);
    }
    void write_zeros(std::size_t n) {
        static constexpr std::byte zeros[256] = {};
        for (std::size_t done = 0; done < n;) {
            const std::size_t k = std::min(n - done, sizeof zeros);
            write(zeros, k);
            done += k;
        }
    }
    // Flushes to disk, closes and renames the temporary over the target.
    void commit() {
        if (!platform::sync_file(fd_)) fail("flush " + tmp_);
        const bool closed = platform::close_file_checked(fd_);
        fd_ = -1;
        if (!closed) fail("close " + tmp_);
        if (!platform::rename_file(tmp_.c_str(), target_.c_str())) fail("rename " + tmp_ + " to " + target_);
        committed_ = true;
    }

private:
    std::string target_, tmp_;
    int fd_ = -1;
    bool committed_ = false;

    [[noreturn]] void fail(const std::string& what) {
        const int err = errno;
        throw io_error(target_ + ": cannot " + what + ": " + std::strerror(err));
    }
};

}  // namespace rwkv::io
