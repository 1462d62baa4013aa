// Reference embedding gather and token shift: row copies.
#pragma once

#include <algorithm>

#include "rwkv/ops/embedding.hpp"
#include "rwkv/ops/token_shift.hpp"

namespace rwkv::ops {

template <>
struct embedding_kernel<backends::reference> {
    static void run(const backends::reference&, const_matrix_view<float> table, std::span<const std::int32_t> tokens,
                    matrix_view<float> x) {
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const auto src = table.row(static_cast<std::size_t>(tokens[t]));
            std::copy(src.begin(), src.end(), x.row(t).begin());
        }
    }
    template <class Q>
    static void run(const backends::reference&, const_matrix_view<Q> table, std::span<const std::int32_t> tokens,
                    matrix_view<float> x) {
        for (std::size_t t = 0; t < tokens.size(); ++t)
            for (std::size_t j = 0; j < table.cols; ++j) x(t, j) = table(static_cast<std::size_t>(tokens[t]), j);
    }
};

template <>
struct token_shift_kernel<backends::reference> {
    static void run(const backends::reference&, const_matrix_view<float> a, std::span<float> sx,
                    matrix_view<float> prev) {
        std::copy(sx.begin(), sx.end(), prev.row(0).begin());
        for (std::size_t t = 1; t < a.rows; ++t) {
            const auto src = a.row(t - 1);
            std::copy(src.begin(), src.end(), prev.row(t).begin());
        }
        const auto last = a.row(a.rows - 1);
        std::copy(last.begin(), last.end(), sx.begin());
    }
};

}  // namespace rwkv::ops
