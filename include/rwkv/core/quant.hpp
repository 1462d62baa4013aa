// rwkv/core/quant.hpp — block-quantized weight matrices (the int8 and int4 precision policies).
//
// A row of `cols` weights is cut into blocks of 32 consecutive weights; a block keeps one f32
// scale and 32 signed codes, weight = scale · code (backends/cpu/kernel_table.hpp has the exact
// byte layout the SIMD kernels read):
//   int8_block: codes in [−127, 127], one byte each; scale = max|w| / 127          (1.125 B/weight)
//   int4_block: codes in [−8, 7], two per byte; the scale puts the block's weight of largest
//               magnitude on −8 or +7, refitted by least squares (quantize_row)     (0.625 B/weight)
// Rows are padded with zero codes to whole blocks. `matrix_view<const int8_block>` (and int4) is
// the quantized counterpart of a `const_matrix_view<W>`: the same rows/cols/rows_slice interface,
// so every model's weight structs work unchanged; element access dequantizes.
//
// W·x with a quantized W (ops::linear, both backends) quantizes the activations too, as llama.cpp's
// Q8_0 does: each row x[t, ·] is cut into blocks of 32 and quantized like an int8 weight row
// (quantize_row<int8_block>: d = max|x| / 127, codes in [−127, 127], a partial block padded with
// zero codes), and y[t, o] = Σ_b (s_w[o, b] · d_x[t, b]) · (Σ_{j ∈ b} c_w · c_x), the block sums
// exact integers (the cpu backend's int8 dot-product kernels: backends/cpu/quant_dot.hpp). x·M
// (ops::project: the LoRA factors) keeps x in f32 and dequantizes M.
#pragma once

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "rwkv/core/tensor.hpp"

namespace rwkv {

struct int8_block {
    static constexpr std::size_t bits = 8;
    static constexpr std::string_view name = "int8";
};
struct int4_block {
    static constexpr std::size_t bits = 4;
    static constexpr std::string_view name = "int4";
};

template <class Q>
concept quant_format = std::is_same_v<Q, int8_block> || std::is_same_v<Q, int4_block>;

inline constexpr std::size_t quant_block_size = 32;

// Rows of a quantized matrix as the kernels take them. int8: byte k of a row is the code of weight
// k. int4: the 16 bytes of block b hold, for j < 16, weight 32b + j in the low nibble and weight
// 32b + 16 + j in the high nibble, each as code + 8. Scales: one f32 per block.
struct quant_rows {
    const std::int8_t* codes = nullptr;
    const float* scales = nullptr;
    std::size_t code_stride = 0;   // bytes between rows of codes
    std::size_t scale_stride = 0;  // floats between rows of scales
};

// Bytes of codes for a row of `cols` weights (padded to whole blocks), and its number of blocks.
template <quant_format Q>
constexpr std::size_t quant_row_blocks(std::size_t cols) noexcept {
    return (cols + quant_block_size - 1) / quant_block_size;
}
template <quant_format Q>
constexpr std::size_t quant_row_bytes(std::size_t cols) noexcept {
    return quant_row_blocks<Q>(cols) * quant_block_size * Q::bits / 8;
}

// The code of weight j of a quantized row (the quant_rows layout above), as a float.
template <std::size_t Bits>
inline float quant_code(const std::int8_t* row, std::size_t j) noexcept {
    if constexpr (Bits == 8) {
        return static_cast<float>(row[j]);
    } else {
        const auto* blk = reinterpret_cast<const std::uint8_t*>(row) + j / quant_block_size * (quant_block_size / 2);
        const std::size_t in = j % quant_block_size;
        return static_cast<float>((in < 16 ? (blk[in] & 15) : (blk[in - 16] >> 4)) - 8);
    }
}

template <quant_format Q, memory_space Space>
struct matrix_view<const Q, Space> {
    using space = Space;
    const std::int8_t* codes = nullptr;
    const float* scales = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t code_stride = 0;   // bytes between rows
    std::size_t scale_stride = 0;  // floats between rows

    // The dequantized weight (i, j).
    float operator()(std::size_t i, std::size_t j) const noexcept
        requires Space::host_accessible
    {
        assert(i < rows && j < cols);
        return scales[i * scale_stride + j / quant_block_size] * quant_code<Q::bits>(codes + i * code_stride, j);
    }
    constexpr matrix_view rows_slice(std::size_t first, std::size_t count) const noexcept {
        assert(first + count <= rows);
        return {codes + first * code_stride, scales + first * scale_stride, count, cols, code_stride, scale_stride};
    }
    // Columns [first, first + count); `first` must start a block.
    constexpr matrix_view cols_slice(std::size_t first, std::size_t count) const noexcept {
        assert(first % quant_block_size == 0 && first + count <= cols);
        return {codes + first * Q::bits / 8, scales + first / quant_block_size, rows, count, code_stride, scale_stride};
    }
    quant_rows kernel_rows() const noexcept { return {codes, scales, code_stride, scale_stride}; }
    constexpr bool empty() const noexcept { return rows == 0 || cols == 0; }
    constexpr std::size_t size() const noexcept { return rows * cols; }
    // Bytes a pass over the matrix reads (codes and scales).
    constexpr std::size_t bytes() const noexcept {
        return rows * (quant_row_bytes<Q>(cols) + quant_row_blocks<Q>(cols) * sizeof(float));
    }
};

// Quantizes one row of `cols` f32 weights into `codes` (quant_row_bytes) and `scales` (blocks).
template <quant_format Q>
void quantize_row(const float* w, std::size_t cols, std::int8_t* codes, float* scales) noexcept {
    const std::size_t blocks = quant_row_blocks<Q>(cols);
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t k0 = b * quant_block_size, n = std::min(quant_block_size, cols - k0);
        float extreme = 0.0f;  // the weight of largest magnitude
        for (std::size_t j = 0; j < n; ++j)
            if (std::abs(w[k0 + j]) > std::abs(extreme)) extreme = w[k0 + j];
        if constexpr (Q::bits == 8) {
            const float scale = std::abs(extreme) / 127.0f;
            const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
            scales[b] = scale;
            for (std::size_t j = 0; j < quant_block_size; ++j) {
                const float q = j < n ? std::nearbyint(w[k0 + j] * inv) : 0.0f;
                codes[k0 + j] = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
            }
        } else {
            // Two candidate grids (the extreme weight on code −8, or on code +7), each refined to the
            // least-squares scale for its codes (s = Σ w·q / Σ q²); the one with less error wins.
            std::uint8_t best_codes[quant_block_size] = {};
            float best_scale = 0.0f, best_err = INFINITY;
            for (const float divisor : {-8.0f, 7.0f}) {
                float scale = extreme / divisor;
                for (int pass = 0; pass < 2; ++pass) {
                    const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
                    std::uint8_t q[quant_block_size];
                    float wq = 0.0f, qq = 0.0f;
                    for (std::size_t j = 0; j < quant_block_size; ++j) {
                        const float x = j < n ? w[k0 + j] : 0.0f;
                        const int c = static_cast<int>(std::clamp(std::nearbyint(x * inv), -8.0f, 7.0f));
                        q[j] = static_cast<std::uint8_t>(c + 8);
                        wq += x * static_cast<float>(c);
                        qq += static_cast<float>(c * c);
                    }
                    if (pass == 1 || qq == 0.0f) {
                        float err = 0.0f;
                        for (std::size_t j = 0; j < n; ++j) {
                            const float d = w[k0 + j] - scale * static_cast<float>(q[j] - 8);
                            err += d * d;
                        }
                        if (err < best_err) {
                            best_err = err;
                            best_scale = scale;
                            std::copy(q, q + quant_block_size, best_codes);
                        }
                        break;
                    }
                    scale = wq / qq;  // refit, then requantize once with it
                }
            }
            scales[b] = best_scale;
            auto* blk = reinterpret_cast<std::uint8_t*>(codes) + k0 / 2;
            for (std::size_t j = 0; j < 16; ++j)
                blk[j] = static_cast<std::uint8_t>(best_codes[j] | (best_codes[j + 16] << 4));
        }
    }
}

}  // namespace rwkv
