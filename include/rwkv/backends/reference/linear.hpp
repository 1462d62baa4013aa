// Reference matrix products: one dot product per output, accumulated in double.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

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
        if constexpr (quant_format<W>) {
            linear_quantized(weight, x, y);
        } else {
            for (std::size_t t = 0; t < x.rows; ++t) {
                for (std::size_t o = 0; o < weight.rows; ++o) {
                    double acc = 0.0;
                    for (std::size_t i = 0; i < weight.cols; ++i)
                        acc += static_cast<double>(weight_value(weight, o, i)) * x(t, i);
                    y(t, o) = static_cast<float>(acc);
                }
            }
        }
    }

    // Block-quantized W (core/quant.hpp): each row of x is quantized to int8 blocks like a weight row,
    // then y = Σ_b (s_w · d_x) · (the block's exact integer dot product of the codes), summed in double.
    static void linear_quantized(const_matrix_view<W> weight, const_matrix_view<float> x, matrix_view<float> y)
        requires quant_format<W>
    {
        const std::size_t K = weight.cols, nb = quant_row_blocks<int8_block>(K);
        thread_local std::vector<std::int8_t> codes;
        thread_local std::vector<float> scales;
        if (codes.size() < nb * quant_block_size) codes.resize(nb * quant_block_size), scales.resize(nb);
        for (std::size_t t = 0; t < x.rows; ++t) {
            quantize_row<int8_block>(x.data + t * x.stride, K, codes.data(), scales.data());
            for (std::size_t o = 0; o < weight.rows; ++o) {
                const std::int8_t* row = weight.codes + o * weight.code_stride;
                const float* sw = weight.scales + o * weight.scale_stride;
                double acc = 0.0;
                for (std::size_t b = 0; b < nb; ++b) {
                    long isum = 0;
                    for (std::size_t k = b * quant_block_size; k < std::min(K, (b + 1) * quant_block_size); ++k)
                        isum += static_cast<long>(quant_code<W::bits>(row, k)) * codes[k];
                    acc += static_cast<double>(sw[b]) * static_cast<double>(scales[b]) * static_cast<double>(isum);
                }
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
