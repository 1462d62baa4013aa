// Reference matrix products: one dot product per output, accumulated in double.
#pragma once

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/ops/linear.hpp"

namespace rwkv::ops {

// A weight as f32: converted from its storage type, or dequantized (core/quant.hpp).
template <class W>
float weight_value(const_matrix_view<W> m, std::size_t i, std::size_t j) noexcept {
    if constexpr (quant_format<W>) return m(i, j);
    else return to_f32(m(i, j));
}

template <class W>
struct linear_kernel<backends::reference, W> {
    static void linear(const backends::reference&, const_matrix_view<W> weight, const_matrix_view<float> x,
                       matrix_view<float> y) {
        for (std::size_t t = 0; t < x.rows; ++t) {
            for (std::size_t o = 0; o < weight.rows; ++o) {
                double acc = 0.0;
                for (std::size_t i = 0; i < weight.cols; ++i)
                    acc += static_cast<double>(weight_value(weight, o, i)) * x(t, i);
                y(t, o) = static_cast<float>(acc);
            }
        }
    }

    static void project(const backends::reference&, const_matrix_view<float> x, const_matrix_view<W> m,
                        matrix_view<float> y) {
        for (std::size_t t = 0; t < x.rows; ++t) {
            for (std::size_t o = 0; o < m.cols; ++o) {
                double acc = 0.0;
                for (std::size_t i = 0; i < m.rows; ++i) acc += static_cast<double>(x(t, i)) * weight_value(m, i, o);
                y(t, o) = static_cast<float>(acc);
            }
        }
    }
};

}  // namespace rwkv::ops
