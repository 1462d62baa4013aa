// Reference GOLD attention: per query and head, a max-shifted softmax in double over keys 0 … p.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "rwkv/ops/gold_attention.hpp"

namespace rwkv::ops {

template <std::size_t N>
struct gold_attention_kernel<backends::reference, N> {
    static void run(const backends::reference&, const_matrix_view<float> q, const_matrix_view<float> k,
                    const_matrix_view<float> v, matrix_view<float> y) {
        const std::size_t first = k.rows - q.rows;  // absolute position of query 0
        const double scale = 1.0 / std::sqrt(static_cast<double>(N));
        for (std::size_t i = 0; i < q.rows; ++i) {
            const std::size_t p = first + i;
            for (std::size_t c0 = 0; c0 < q.cols; c0 += N) {
                double max_score = -std::numeric_limits<double>::infinity();
                for (std::size_t j = 0; j <= p; ++j) max_score = std::max(max_score, score(q, k, i, j, c0) * scale);
                double denom = 0.0;
                double acc[N] = {};
                for (std::size_t j = 0; j <= p; ++j) {
                    const double e = std::exp(score(q, k, i, j, c0) * scale - max_score);
                    denom += e;
                    for (std::size_t n = 0; n < N; ++n) acc[n] += e * v(j, c0 + n);
                }
                for (std::size_t n = 0; n < N; ++n) y(i, c0 + n) = static_cast<float>(acc[n] / denom);
            }
        }
    }

private:
    static double score(const_matrix_view<float> q, const_matrix_view<float> k, std::size_t i, std::size_t j,
                        std::size_t c0) {
        double s = 0.0;
        for (std::size_t n = 0; n < N; ++n) s += static_cast<double>(q(i, c0 + n)) * k(j, c0 + n);
        return s;
    }
};

}  // namespace rwkv::ops
