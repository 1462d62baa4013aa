// Reference RWKV-5/6 WKV: the sequential scan of ops/wkv6.hpp, per head and value column.
#pragma once

#include "rwkv/ops/wkv6.hpp"

namespace rwkv::ops {

template <std::size_t N>
struct wkv6_kernel<backends::reference, N> {
    static void run(const backends::reference&, tensor3_view<float> state, const_matrix_view<float> r,
                    const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                    std::span<const float> u, matrix_view<float> y) {
        for (std::size_t t = 0; t < r.rows; ++t) {
            for (std::size_t h = 0; h < state.d0; ++h) {
                const std::size_t c0 = h * N;
                matrix_view<float> S = state.slice(h);
                for (std::size_t j = 0; j < N; ++j) {  // value column j
                    const double vj = v(t, c0 + j);
                    double out = 0.0;
                    for (std::size_t i = 0; i < N; ++i) {  // key row i
                        const double kv = static_cast<double>(k(t, c0 + i)) * vj;
                        out += static_cast<double>(r(t, c0 + i)) * (static_cast<double>(u[c0 + i]) * kv + S(i, j));
                        S(i, j) = static_cast<float>(kv + static_cast<double>(w(t, c0 + i)) * S(i, j));
                    }
                    y(t, c0 + j) = static_cast<float>(out);
                }
            }
        }
    }
};

}  // namespace rwkv::ops
