// Reference RWKV-7 WKV: the sequential scan of the generalized delta rule, exactly as written in
// ops/wkv7.hpp (docs/spec/rwkv.md §5.3 and §5.5: the official CPU and CUDA paths are this same scan).
#pragma once

#include "rwkv/ops/wkv7.hpp"

namespace rwkv::ops {

template <std::size_t N>
struct wkv7_kernel<backends::reference, N> {
    static void run(const backends::reference&, tensor3_view<float> state, const_matrix_view<float> r,
                    const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                    const_matrix_view<float> a, const_matrix_view<float> b, matrix_view<float> y) {
        const std::size_t heads = state.d0;
        for (std::size_t t = 0; t < r.rows; ++t) {
            for (std::size_t h = 0; h < heads; ++h) {
                const std::size_t c0 = h * N;
                matrix_view<float> S = state.slice(h);
                for (std::size_t i = 0; i < N; ++i) {  // value row i
                    double sa = 0.0;
                    for (std::size_t j = 0; j < N; ++j) sa += static_cast<double>(S(i, j)) * a(t, c0 + j);
                    double out = 0.0;
                    for (std::size_t j = 0; j < N; ++j) {
                        const double s = static_cast<double>(S(i, j)) * w(t, c0 + j) + sa * b(t, c0 + j) +
                                         static_cast<double>(v(t, c0 + i)) * k(t, c0 + j);
                        S(i, j) = static_cast<float>(s);
                        out += s * r(t, c0 + j);
                    }
                    y(t, c0 + i) = static_cast<float>(out);
                }
            }
        }
    }
};

template <>
struct wkv7_bonus_kernel<backends::reference> {
    static void run(const backends::reference&, std::size_t n, const_matrix_view<float> r, const_matrix_view<float> k,
                    const_matrix_view<float> v, std::span<const float> r_k, matrix_view<float> y) {
        for (std::size_t t = 0; t < r.rows; ++t) {
            for (std::size_t c0 = 0; c0 < r.cols; c0 += n) {
                double dot = 0.0;
                for (std::size_t j = c0; j < c0 + n; ++j) dot += static_cast<double>(r(t, j)) * k(t, j) * r_k[j];
                for (std::size_t i = c0; i < c0 + n; ++i) y(t, i) = static_cast<float>(y(t, i) + dot * v(t, i));
            }
        }
    }
};

}  // namespace rwkv::ops
