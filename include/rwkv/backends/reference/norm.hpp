// Reference normalisations: two-pass mean/variance in double.
#pragma once

#include <algorithm>
#include <cmath>

#include "rwkv/ops/norm.hpp"

namespace rwkv::ops {

template <>
struct norm_kernel<backends::reference> {
    static void group_norm(const backends::reference&, const_matrix_view<float> x, std::span<const float> weight,
                           std::span<const float> bias, std::size_t groups, float eps, matrix_view<float> y) {
        const std::size_t n = x.cols / groups;
        for (std::size_t t = 0; t < x.rows; ++t)
            for (std::size_t g = 0; g < groups; ++g)
                normalize_on_host(x.row(t).subspan(g * n, n), weight.subspan(g * n, n), bias.subspan(g * n, n), eps,
                                  y.row(t).subspan(g * n, n));
    }

    static void rms_norm(const backends::reference&, const_matrix_view<float> x, matrix_view<float> y, float eps) {
        for (std::size_t t = 0; t < x.rows; ++t) {
            double sq = 0.0;
            for (std::size_t c = 0; c < x.cols; ++c) sq += static_cast<double>(x(t, c)) * x(t, c);
            const double rms = std::sqrt(sq / static_cast<double>(x.cols)) + static_cast<double>(eps);
            for (std::size_t c = 0; c < x.cols; ++c) y(t, c) = static_cast<float>(x(t, c) / rms);
        }
    }

    static void l2_normalize_groups(const backends::reference&, matrix_view<float> x, std::size_t n, float eps) {
        for (std::size_t t = 0; t < x.rows; ++t) {
            for (std::size_t c0 = 0; c0 < x.cols; c0 += n) {
                double sq = 0.0;
                for (std::size_t c = c0; c < c0 + n; ++c) sq += static_cast<double>(x(t, c)) * x(t, c);
                const double norm = std::max(std::sqrt(sq), static_cast<double>(eps));
                for (std::size_t c = c0; c < c0 + n; ++c) x(t, c) = static_cast<float>(x(t, c) / norm);
            }
        }
    }
};

}  // namespace rwkv::ops
