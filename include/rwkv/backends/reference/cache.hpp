// Reference context-cache kernels: row loops over the state's conversions (core/state.hpp).
#pragma once

#include "rwkv/ops/cache.hpp"

namespace rwkv::ops {

template <>
struct cache_kernel<backends::reference> {
    static void store(const backends::reference&, const_matrix_view<float> rows, dtype type, std::byte* dst) {
        const std::size_t row_bytes = rows.cols * dtype_size(type);
        for (std::size_t t = 0; t < rows.rows; ++t)
            narrow_cache_values(type, rows.row(t).data(), dst + t * row_bytes, rows.cols);
    }
    static void load(const backends::reference&, const std::byte* src, dtype type, matrix_view<float> out) {
        const std::size_t row_bytes = out.cols * dtype_size(type);
        for (std::size_t t = 0; t < out.rows; ++t)
            widen_cache_values(type, src + t * row_bytes, out.row(t).data(), out.cols);
    }
};

}  // namespace rwkv::ops
