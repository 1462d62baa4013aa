// rwkv/core/tensor.hpp — non-owning views with shape, tagged with the memory space they point into.
//
// Activations are row-major [T, n] matrices of float (one row per token); weights are row-major
// [rows, cols] matrices of the precision policy's storage type. Views never own memory.
//
// Every view names its memory space (core/memory_space.hpp; the host heap unless told otherwise).
// Shape queries, slicing and the raw pointer (data_handle(), and the public members the views have
// always had) work in every space: a kernel running inside a space takes them from there. Element
// access — operator(), operator[], row(), flat(), iteration and the std::span conversions — exists
// only for spaces the host may dereference, so host code that reads a device view does not compile.
// A view converts from mutable to read-only elements within its space, never to another space
// (deep_copy moves data between spaces).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>

#include "rwkv/core/error.hpp"
#include "rwkv/core/memory_space.hpp"

namespace rwkv {

// A row-major [rows, cols] view; `stride` is the distance between rows in elements (≥ cols).
template <class T, memory_space Space = host_space>
struct matrix_view {
    using element_type = T;
    using space = Space;

    T* data = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t stride = 0;

    constexpr matrix_view() = default;
    constexpr matrix_view(T* d, std::size_t r, std::size_t c) noexcept
        : data(d), rows(r), cols(c), stride(c) {}
    constexpr matrix_view(T* d, std::size_t r, std::size_t c, std::size_t s) noexcept
        : data(d), rows(r), cols(c), stride(s) {}

    // A mutable view converts to a read-only one (in the same space).
    template <class U>
        requires std::is_same_v<const U, T>
    constexpr matrix_view(const matrix_view<U, Space>& m) noexcept  // NOLINT(google-explicit-constructor)
        : data(m.data), rows(m.rows), cols(m.cols), stride(m.stride) {}

    // The first element, as a pointer into the space (for kernels that run there).
    constexpr T* data_handle() const noexcept { return data; }

    constexpr std::span<T> row(std::size_t i) const noexcept
        requires Space::host_accessible
    {
        assert(i < rows);
        return {data + i * stride, cols};
    }
    constexpr T& operator()(std::size_t i, std::size_t j) const noexcept
        requires Space::host_accessible
    {
        assert(i < rows && j < cols);
        return data[i * stride + j];
    }
    // Rows [first, first + count).
    constexpr matrix_view rows_slice(std::size_t first, std::size_t count) const noexcept {
        assert(first + count <= rows);
        return {data + first * stride, count, cols, stride};
    }
    // Columns [first, first + count) (a strided view).
    constexpr matrix_view cols_slice(std::size_t first, std::size_t count) const noexcept {
        assert(first + count <= cols);
        return {data + first, rows, count, stride};
    }
    constexpr bool contiguous() const noexcept { return stride == cols; }
    constexpr std::size_t size() const noexcept { return rows * cols; }
    // The whole matrix as one span (contiguous views only).
    constexpr std::span<T> flat() const noexcept
        requires Space::host_accessible
    {
        assert(contiguous());
        return {data, rows * cols};
    }
    constexpr bool empty() const noexcept { return rows == 0 || cols == 0; }
};

template <class T, memory_space Space = host_space> using const_matrix_view = matrix_view<const T, Space>;

// A 3-D row-major [d0, d1, d2] view (the H × N × N matrix state). An aggregate: {data, d0, d1, d2}.
template <class T, memory_space Space = host_space>
struct tensor3_view {
    using element_type = T;
    using space = Space;

    T* data = nullptr;
    std::size_t d0 = 0, d1 = 0, d2 = 0;

    constexpr T* data_handle() const noexcept { return data; }

    constexpr T& operator()(std::size_t i, std::size_t j, std::size_t k) const noexcept
        requires Space::host_accessible
    {
        assert(i < d0 && j < d1 && k < d2);
        return data[(i * d1 + j) * d2 + k];
    }
    constexpr matrix_view<T, Space> slice(std::size_t i) const noexcept {
        assert(i < d0);
        return {data + i * d1 * d2, d1, d2};
    }
    constexpr std::size_t size() const noexcept { return d0 * d1 * d2; }

    // A mutable view converts to a read-only one (in the same space). A conversion function, not a
    // constructor, so that the type stays an aggregate.
    template <class U>
        requires(std::is_same_v<U, const T> && !std::is_const_v<T>)
    constexpr operator tensor3_view<U, Space>() const noexcept {  // NOLINT(google-explicit-constructor)
        return {data, d0, d1, d2};
    }
};

template <class T, memory_space Space>
class vector_view;

namespace detail {
template <class V>
inline constexpr bool is_vector_view = false;
template <class T, memory_space Space>
inline constexpr bool is_vector_view<vector_view<T, Space>> = true;
}  // namespace detail

// A contiguous run of `size()` elements (a per-channel vector: a bias, a norm's weight, a decay).
// In the host space it is what std::span is, and converts to and from it implicitly (std::span,
// std::vector and std::array convert to it; it converts to std::span through its iterators).
template <class T, memory_space Space = host_space>
class vector_view {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using space = Space;

    constexpr vector_view() noexcept = default;
    constexpr vector_view(T* data, std::size_t size) noexcept : data_(data), size_(size) {}

    // A mutable view converts to a read-only one (in the same space).
    template <class U>
        requires(!std::is_same_v<U, T> && std::is_convertible_v<U (*)[], T (*)[]>)
    constexpr vector_view(const vector_view<U, Space>& v) noexcept  // NOLINT(google-explicit-constructor)
        : data_(v.data_handle()), size_(v.size()) {}

    // Host memory: any contiguous range of elements that convert (std::span, std::vector,
    // std::array, ...); a temporary range only when the elements are read-only, as std::span.
    template <class R>
        requires(Space::host_accessible && !detail::is_vector_view<std::remove_cvref_t<R>> &&
                 std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                 (std::ranges::borrowed_range<R> || std::is_const_v<T>) &&
                 std::is_convertible_v<std::remove_reference_t<std::ranges::range_reference_t<R>> (*)[], T (*)[]>)
    constexpr vector_view(R&& r) noexcept  // NOLINT(google-explicit-constructor,bugprone-forwarding-reference-overload)
        : data_(std::ranges::data(r)), size_(std::ranges::size(r)) {}

    constexpr T* data_handle() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    constexpr bool empty() const noexcept { return size_ == 0; }

    // Elements [first, first + count).
    constexpr vector_view subview(std::size_t first, std::size_t count) const noexcept {
        assert(first <= size_ && count <= size_ - first);
        return {data_ + first, count};
    }
    // Elements [first, size()).
    constexpr vector_view subview(std::size_t first) const noexcept {
        assert(first <= size_);
        return {data_ + first, size_ - first};
    }

    constexpr T* data() const noexcept
        requires Space::host_accessible
    {
        return data_;
    }
    constexpr T& operator[](std::size_t i) const noexcept
        requires Space::host_accessible
    {
        assert(i < size_);
        return data_[i];
    }
    constexpr T* begin() const noexcept
        requires Space::host_accessible
    {
        return data_;
    }
    constexpr T* end() const noexcept
        requires Space::host_accessible
    {
        return data_ + size_;
    }
    constexpr std::span<T> span() const noexcept
        requires Space::host_accessible
    {
        return {data_, size_};
    }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

template <class T, std::size_t Extent>
vector_view(std::span<T, Extent>) -> vector_view<T>;

// ---- copies between spaces (core/memory_space.hpp: deep_copy) ------------------------------------

// dst ← src, element for element; the sizes must agree (rwkv::invalid_argument otherwise).
template <class T, class U, memory_space Dst, memory_space Src>
    requires(!std::is_const_v<T> && std::is_same_v<std::remove_const_t<U>, T> && std::is_trivially_copyable_v<T>)
void deep_copy(vector_view<T, Dst> dst, vector_view<U, Src> src) {
    if (dst.size() != src.size())
        throw invalid_argument("deep_copy: the destination holds " + std::to_string(dst.size()) +
                               " elements, the source " + std::to_string(src.size()));
    deep_copy<Dst, Src>(dst.data_handle(), src.data_handle(), dst.size_bytes());
}

// dst ← src, element for element, either of them strided; the shapes must agree
// (rwkv::invalid_argument otherwise). Contiguous views copy in one piece, others a row at a time.
template <class T, class U, memory_space Dst, memory_space Src>
    requires(!std::is_const_v<T> && std::is_same_v<std::remove_const_t<U>, T> && std::is_trivially_copyable_v<T>)
void deep_copy(matrix_view<T, Dst> dst, matrix_view<U, Src> src) {
    if (dst.rows != src.rows || dst.cols != src.cols)
        throw invalid_argument("deep_copy: the destination is " + std::to_string(dst.rows) + " × " +
                               std::to_string(dst.cols) + ", the source " + std::to_string(src.rows) + " × " +
                               std::to_string(src.cols));
    if (dst.empty()) return;
    if (dst.contiguous() && src.contiguous()) {
        deep_copy<Dst, Src>(dst.data_handle(), src.data_handle(), dst.size() * sizeof(T));
        return;
    }
    for (std::size_t i = 0; i < dst.rows; ++i)
        deep_copy<Dst, Src>(dst.data_handle() + i * dst.stride, src.data_handle() + i * src.stride,
                            dst.cols * sizeof(T));
}

}  // namespace rwkv

// A vector_view does not own its elements: a std::span may be made from a temporary one.
namespace std::ranges {
template <class T, rwkv::memory_space Space>
inline constexpr bool enable_borrowed_range<rwkv::vector_view<T, Space>> = true;
}  // namespace std::ranges
