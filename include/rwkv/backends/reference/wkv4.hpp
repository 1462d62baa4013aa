// Reference RWKV-4 WKV: the official max-shifted recurrence (docs/spec/rwkv.md §2.3), per channel, in double.
#pragma once

#include <algorithm>
#include <cmath>

#include "rwkv/ops/wkv4.hpp"

namespace rwkv::ops {

template <>
struct wkv4_kernel<backends::reference> {
    static void run(const backends::reference&, std::span<float> aa, std::span<float> bb, std::span<float> pp,
                    std::span<const float> w, std::span<const float> u, const_matrix_view<float> k,
                    const_matrix_view<float> v, matrix_view<float> out) {
        for (std::size_t c = 0; c < k.cols; ++c) {
            double a = aa[c], b = bb[c], p = pp[c];
            for (std::size_t t = 0; t < k.rows; ++t) {
                const double kt = k(t, c), vt = v(t, c);
                // Output: old sums plus the bonus e^(u + k) for the current token.
                const double q = std::max(p, u[c] + kt);
                const double e1 = std::exp(p - q), e2 = std::exp(u[c] + kt - q);
                out(t, c) = static_cast<float>((e1 * a + e2 * vt) / (e1 * b + e2));
                // State: decay by e^w, add e^k.
                const double q2 = std::max(p + w[c], kt);
                const double f1 = std::exp(p + w[c] - q2), f2 = std::exp(kt - q2);
                a = f1 * a + f2 * vt;
                b = f1 * b + f2;
                p = q2;
            }
            aa[c] = static_cast<float>(a);
            bb[c] = static_cast<float>(b);
            pp[c] = static_cast<float>(p);
        }
    }
};

}  // namespace rwkv::ops
