// Reference matrix products: one dot product per output, accumulated in double.
#pragma once

#include "rwkv/core/dtype.hpp"
#include "rwkv/ops/linear.hpp"

namespace rwkv::ops {

template <class W>
struct linear_kernel<backends::reference, W> {
    static void linear(const backends::reference&, const_matrix_view<W> weight, const_matrix_view<float> x,
                       matrix_view<float> y) {
        for (std::size_t t = 0; t < x.rows; ++t) {
            for (std::size_t o = 0; o < weight.rows; ++o) {
                double acc = 0.0;
                for (std::size_t i = 0; i < weight.cols; ++i)
                    acc += static_cast<double>(to_f32(weight(o, i))) * x(t, i);
                y(t, o) = static_cast<float>(acc);
            }
        }
    }

    static void project(const backends::reference&, const_matrix_view<float> x, const_matrix_view<W> m,
                        matrix_view<float> y) {
        for (std::size_t t = 0; t < x.rows; ++t) {
            for (std::size_t o = 0; o < m.cols; ++o) {
                double acc = 0.0;
                for (std::size_t i = 0; i < m.rows; ++i) acc += static_cast<double>(x(t, i)) * to_f32(m(i, o));
                y(t, o) = static_cast<float>(acc);
            }
        }
    }
};

}  // namespace rwkv::ops
