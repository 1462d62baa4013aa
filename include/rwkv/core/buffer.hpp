// rwkv/core/buffer.hpp — owning, aligned arrays for weights and workspaces, in a memory space.
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "rwkv/core/error.hpp"
#include "rwkv/core/memory_space.hpp"
#include "rwkv/core/platform.hpp"
#include "rwkv/core/tensor.hpp"

namespace rwkv {

// A fixed-size array of trivially copyable T in memory space `Space`, 64-byte aligned (for any SIMD
// width) and zero-initialised. Sized once; never grows (so hot paths that use it never allocate).
// In the host space, arrays of 2 MiB or more are 2 MiB aligned on transparent huge pages
// (host_space). A value: copying allocates in the same space and copies there; moving hands the
// memory over and leaves the source empty.
//
// Every space: size(), bytes(), view() (a vector_view tagged with the space), data_handle() (the raw
// pointer, for kernels that run in the space) and copy_from_host / copy_to_host. Host-accessible
// spaces add data(), span() and operator[].
template <class T, memory_space Space = host_space>
class buffer {
    static_assert(std::is_trivially_copyable_v<T>, "buffers copy their elements as bytes");
    static_assert(!std::is_const_v<T>, "a buffer owns mutable elements; its const views are read-only");

public:
    using element_type = T;
    using space = Space;
    static constexpr std::size_t alignment = alignof(T) > 64 ? alignof(T) : 64;

    buffer() noexcept = default;
    explicit buffer(std::size_t n) : buffer(n, uninitialised{}) {
        fill_zero<Space>(data_, bytes());
    }
    buffer(const buffer& o) : buffer(o.size_, uninitialised{}) { Space::copy(data_, o.data_, bytes()); }
    buffer& operator=(const buffer& o) {
        if (this != &o) *this = buffer(o);
        return *this;
    }
    buffer(buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    buffer& operator=(buffer&& o) noexcept {
        if (this != &o) {
            release();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~buffer() { release(); }

    std::size_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept { return size_ * sizeof(T); }
    bool empty() const noexcept { return size_ == 0; }

    T* data_handle() noexcept { return data_; }
    const T* data_handle() const noexcept { return data_; }
    vector_view<T, Space> view() noexcept { return {data_, size_}; }
    vector_view<const T, Space> view() const noexcept { return {data_, size_}; }

    T* data() noexcept
        requires Space::host_accessible
    {
        return data_;
    }
    const T* data() const noexcept
        requires Space::host_accessible
    {
        return data_;
    }
    std::span<T> span() noexcept
        requires Space::host_accessible
    {
        return {data_, size_};
    }
    std::span<const T> span() const noexcept
        requires Space::host_accessible
    {
        return {data_, size_};
    }
    T& operator[](std::size_t i) noexcept
        requires Space::host_accessible
    {
        return data_[i];
    }
    const T& operator[](std::size_t i) const noexcept
        requires Space::host_accessible
    {
        return data_[i];
    }

    // Replaces every element with `src`'s, which holds size() elements (rwkv::invalid_argument
    // otherwise).
    void copy_from_host(std::span<const T> src) {
        if (src.size() != size_) size_mismatch(src.size(), "copy_from_host: the source");
        if (!empty()) Space::copy_from_host(data_, src.data(), bytes());
    }
    // Writes every element into `dst`, which holds size() elements (rwkv::invalid_argument otherwise).
    void copy_to_host(std::span<T> dst) const {
        if (dst.size() != size_) size_mismatch(dst.size(), "copy_to_host: the destination");
        if (!empty()) Space::copy_to_host(dst.data(), data_, bytes());
    }

private:
    struct uninitialised {};
    buffer(std::size_t n, uninitialised) : size_(n) {
        if (n == 0) return;
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
        data_ = static_cast<T*>(Space::allocate(n * sizeof(T), alignment));
    }
    void release() noexcept {
        if (data_ != nullptr) Space::deallocate(data_, bytes(), alignment);
        data_ = nullptr;
        size_ = 0;
    }
    [[noreturn]] void size_mismatch(std::size_t n, const char* what) const {
        throw invalid_argument(std::string("buffer::") + what + " holds " + std::to_string(n) +
                               " elements, the buffer " + std::to_string(size_));
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
};

// The host heap's buffer, as the library has always named it.
template <class T>
using aligned_buffer = buffer<T, host_space>;

// dst ← src between any two spaces (core/memory_space.hpp: deep_copy); the sizes must agree.
template <class T, memory_space Dst, memory_space Src>
void deep_copy(buffer<T, Dst>& dst, const buffer<T, Src>& src) {
    deep_copy(dst.view(), src.view());
}

}  // namespace rwkv
