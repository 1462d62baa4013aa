// rwkv/core/tensor.hpp — non-owning views with shape.
//
// Activations are row-major [T, n] matrices of float (one row per token); weights are row-major
// [rows, cols] matrices of the precision policy's storage type. Views never own memory.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

namespace rwkv {

// A row-major [rows, cols] view; `stride` is the distance between rows in elements (≥ cols).
template <class T>
struct matrix_view {
    T* data = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t stride = 0;

    constexpr matrix_view() = default;
    constexpr matrix_view(T* d, std::size_t r, std::size_t c) noexcept
        : data(d), rows(r), cols(c), stride(c) {}
    constexpr matrix_view(T* d, std::size_t r, std::size_t c, std::size_t s) noexcept
        : data(d), rows(r), cols(c), stride(s) {}

    // A mutable view converts to a read-only one.
    template <class U>
        requires std::is_same_v<const U, T>
    constexpr matrix_view(const matrix_view<U>& m) noexcept  // NOLINT(google-explicit-constructor)
        : data(m.data), rows(m.rows), cols(m.cols), stride(m.stride) {}

    constexpr std::span<T> row(std::size_t i) const noexcept {
        assert(i < rows);
        return {data + i * stride, cols};
    }
    constexpr T& operator()(std::size_t i, std::size_t j) const noexcept {
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
    constexpr std::span<T> flat() const noexcept {
        assert(contiguous());
        return {data, rows * cols};
    }
    constexpr bool empty() const noexcept { return rows == 0 || cols == 0; }
};

template <class T> using const_matrix_view = matrix_view<const T>;

// A 3-D row-major [d0, d1, d2] view (the H × N × N matrix state).
template <class T>
struct tensor3_view {
    T* data = nullptr;
    std::size_t d0 = 0, d1 = 0, d2 = 0;

    constexpr T& operator()(std::size_t i, std::size_t j, std::size_t k) const noexcept {
        assert(i < d0 && j < d1 && k < d2);
        return data[(i * d1 + j) * d2 + k];
    }
    constexpr matrix_view<T> slice(std::size_t i) const noexcept {
        assert(i < d0);
        return {data + i * d1 * d2, d1, d2};
    }
    constexpr std::size_t size() const noexcept { return d0 * d1 * d2; }
};

}  // namespace rwkv
