// rwkv/core/buffer.hpp — 64-byte aligned owning arrays for weights and workspaces.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

namespace rwkv {

// A fixed-size array of trivially copyable T, aligned for any SIMD width; zero-initialised.
// Sized once; never grows (so hot paths that use it never allocate). Arrays of 2 MiB or more
// (weights streamed once per token) are 2 MiB aligned and asked to live on transparent huge pages
// (madvise; the OS may decline), which spares the page walks of a pass over them.
template <class T>
class aligned_buffer {
    static_assert(std::is_trivially_copyable_v<T>);
    static constexpr std::size_t huge_page = std::size_t{2} << 20;
    static constexpr std::align_val_t alignment{64}, huge_alignment{huge_page};

    struct deleter {
        bool huge = false;
        void operator()(T* p) const noexcept { ::operator delete[](p, huge ? huge_alignment : alignment); }
    };
    std::unique_ptr<T[], deleter> data_;
    std::size_t size_ = 0;

public:
    aligned_buffer() = default;
    explicit aligned_buffer(std::size_t n) : size_(n) {
        if (n == 0) return;
        const std::size_t bytes = n * sizeof(T);
        const bool huge = bytes >= huge_page;
        const std::size_t reserved = huge ? (bytes + huge_page - 1) / huge_page * huge_page : bytes;
        data_ = std::unique_ptr<T[], deleter>(
            static_cast<T*>(::operator new[](reserved, huge ? huge_alignment : alignment)), deleter{huge});
#ifdef MADV_HUGEPAGE
        if (huge) ::madvise(static_cast<void*>(data_.get()), reserved, MADV_HUGEPAGE);  // a hint
#endif
        std::memset(static_cast<void*>(data_.get()), 0, bytes);
    }
    aligned_buffer(const aligned_buffer& o) : aligned_buffer(o.size_) {
        if (size_ != 0) std::memcpy(static_cast<void*>(data_.get()), o.data_.get(), size_ * sizeof(T));
    }
    aligned_buffer& operator=(const aligned_buffer& o) {
        if (this != &o) *this = aligned_buffer(o);
        return *this;
    }
    aligned_buffer(aligned_buffer&&) noexcept = default;
    aligned_buffer& operator=(aligned_buffer&&) noexcept = default;

    T* data() noexcept { return data_.get(); }
    const T* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }
    std::span<T> span() noexcept { return {data_.get(), size_}; }
    std::span<const T> span() const noexcept { return {data_.get(), size_}; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
};

}  // namespace rwkv
