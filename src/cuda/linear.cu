// src/cuda/linear.cu — the matrix products (ops/linear.hpp), the embedding gather.
//
// linear, y = x·Wᵀ: one warp per output row o, which streams W's row once per pass of up to
// `tokens_per_pass` tokens. Lane l takes the chunks l, l + 32, l + 64, … of `vec` consecutive weights
// (a 128-bit load), accumulates w·x per token in that order, and the warp adds its 32 partial sums
// in a fixed tree. Every output element is therefore one fixed sequence of operations whatever the
// number of tokens or agents in the call (the determinism rule of docs/design.md), and the vector
// and scalar forms (the scalar one for rows that are not 16-byte aligned) add in the same order.
//
// Quantized W (core/quant.hpp): x is first quantized to int8 blocks per row, as the reference does
// (quantize_activations: the same scale, reciprocal and round-to-nearest-even), then the block dot
// products are exact integer sums (__dp4a) scaled by s_w · d_x.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "common.cuh"
#include "weights.cuh"

namespace rwkv::cuda_kernels {
namespace {

using detail::warp_sum;

constexpr unsigned warps_per_block = 8;
constexpr std::size_t tokens_per_pass = 8;
constexpr std::size_t quant_tokens_per_pass = 4;

// ---- dense weights: f32, bf16, f16 --------------------------------------------------------------

template <weight_type WT>
struct dense_format;
template <>
struct dense_format<weight_type::f32> {
    using storage = float;
    static constexpr std::size_t vec = 4;
    __device__ static float widen(float w) { return w; }
};
template <>
struct dense_format<weight_type::bf16> {
    using storage = std::uint16_t;
    static constexpr std::size_t vec = 8;
    __device__ static float widen(std::uint16_t w) { return detail::bf16_to_float(w); }
};
template <>
struct dense_format<weight_type::f16> {
    using storage = std::uint16_t;
    static constexpr std::size_t vec = 8;
    __device__ static float widen(std::uint16_t w) { return detail::f16_to_float(w); }
};

// One chunk of `vec` weights of a row, widened, from element k (all of it in range when Vector).
template <weight_type WT, bool Vector>
__device__ __forceinline__ void load_chunk(const typename dense_format<WT>::storage* row, std::size_t k,
                                           std::size_t K, float (&out)[dense_format<WT>::vec]) {
    using F = dense_format<WT>;
    if constexpr (Vector) {
        const uint4 raw = *reinterpret_cast<const uint4*>(row + k);
        typename F::storage s[F::vec];
        static_assert(sizeof s == sizeof raw);
        memcpy(s, &raw, sizeof raw);
#pragma unroll
        for (std::size_t e = 0; e < F::vec; ++e) out[e] = F::widen(s[e]);
    } else {
#pragma unroll
        for (std::size_t e = 0; e < F::vec; ++e) out[e] = k + e < K ? F::widen(row[k + e]) : 0.0f;
    }
}

template <weight_type WT, bool Vector>
__global__ void linear_dense(weight_matrix w, const_matrix x, matrix y) {
    using F = dense_format<WT>;
    constexpr std::size_t vec = F::vec;
    const unsigned lane = threadIdx.x % 32;
    const std::size_t o = blockIdx.x * static_cast<std::size_t>(warps_per_block) + threadIdx.x / 32;
    if (o >= w.rows) return;  // the whole warp: o is the same in every lane
    const auto* row = static_cast<const typename F::storage*>(w.data) + o * w.stride;
    const std::size_t K = w.cols, chunks = (K + vec - 1) / vec;
    for (std::size_t t0 = 0; t0 < x.rows; t0 += tokens_per_pass) {
        const std::size_t nt = min(tokens_per_pass, x.rows - t0);
        float acc[tokens_per_pass] = {};
        for (std::size_t c = lane; c < chunks; c += 32) {
            const std::size_t k = c * vec;
            float wv[vec];
            load_chunk<WT, Vector>(row, k, K, wv);
#pragma unroll
            for (std::size_t t = 0; t < tokens_per_pass; ++t) {
                if (t >= nt) break;
                const float* xr = x.data + (t0 + t) * x.stride + k;
#pragma unroll
                for (std::size_t e = 0; e < vec; ++e)
                    if (Vector || k + e < K) acc[t] = fmaf(wv[e], xr[e], acc[t]);
            }
        }
#pragma unroll
        for (std::size_t t = 0; t < tokens_per_pass; ++t) {
            if (t >= nt) break;
            const float sum = warp_sum(acc[t]);
            if (lane == 0) y.data[(t0 + t) * y.stride + o] = sum;
        }
    }
}

template <weight_type WT>
void launch_dense(const weight_matrix& w, const_matrix x, matrix y) {
    constexpr std::size_t vec = dense_format<WT>::vec;
    using storage = typename dense_format<WT>::storage;
    const bool aligned = reinterpret_cast<std::uintptr_t>(w.data) % 16 == 0 && w.stride % vec == 0 && w.cols % vec == 0;
    const unsigned blocks = detail::blocks_for(w.rows, warps_per_block);
    static_assert(sizeof(storage) * vec == 16);
    if (aligned)
        linear_dense<WT, true><<<blocks, warps_per_block * 32, 0, detail::stream()>>>(w, x, y);
    else
        linear_dense<WT, false><<<blocks, warps_per_block * 32, 0, detail::stream()>>>(w, x, y);
    detail::check_launch("linear");
}

// ---- quantized weights: int8, int4 ----------------------------------------------------------------

// x [T, K] → int8 codes [T, blocks · 32] and scales [T, blocks]: one warp per (row, block).
__global__ void quantize_activations(const_matrix x, std::size_t blocks, std::int8_t* codes, float* scales) {
    const std::size_t item = blockIdx.x * static_cast<std::size_t>(warps_per_block) + threadIdx.x / 32;
    if (item >= x.rows * blocks) return;
    const std::size_t t = item / blocks, b = item % blocks, k = b * 32 + threadIdx.x % 32;
    const float v = k < x.cols ? x.data[t * x.stride + k] : 0.0f;
    const float extreme = detail::warp_max(fabsf(v));
    const float scale = extreme / 127.0f;
    const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
    const float q = fminf(fmaxf(rintf(v * inv), -127.0f), 127.0f);
    codes[t * blocks * 32 + k] = static_cast<std::int8_t>(q);
    if (threadIdx.x % 32 == 0) scales[t * blocks + b] = scale;
}

// Four signed 8-bit values in one word, the first in the lowest byte (__dp4a's operand).
__device__ __forceinline__ int pack4(int a, int b, int c, int d) {
    const unsigned u = (unsigned(a) & 0xffu) | ((unsigned(b) & 0xffu) << 8) | ((unsigned(c) & 0xffu) << 16) |
                       ((unsigned(d) & 0xffu) << 24);
    return static_cast<int>(u);
}

// A warp covers 4 blocks per step, 8 lanes per block; lane `sub` of a block takes 4 of its codes:
// int8, codes 4·sub … 4·sub + 3; int4, codes j, j + 1, j + 16, j + 17 for j = 2·sub (the two bytes
// 2·sub and 2·sub + 1 of the block, low nibbles then high).
template <bool Int4>
__global__ void linear_quantized(weight_matrix w, const std::int8_t* x_codes, const float* x_scales,
                                 std::size_t tokens, std::size_t blocks, matrix y) {
    const unsigned lane = threadIdx.x % 32, group = lane / 8, sub = lane % 8;
    const std::size_t o = blockIdx.x * static_cast<std::size_t>(warps_per_block) + threadIdx.x / 32;
    if (o >= w.rows) return;
    const auto* row = static_cast<const std::int8_t*>(w.data) + o * w.stride;
    const float* row_scales = w.scales + o * w.scale_stride;
    for (std::size_t t0 = 0; t0 < tokens; t0 += quant_tokens_per_pass) {
        const std::size_t nt = min(quant_tokens_per_pass, tokens - t0);
        float acc[quant_tokens_per_pass] = {};
        for (std::size_t b0 = 0; b0 < blocks; b0 += 4) {
            const std::size_t b = b0 + group;
            const bool active = b < blocks;
            int wq = 0;
            float sw = 0.0f;
            if (active) {
                if constexpr (Int4) {
                    const auto* p = reinterpret_cast<const std::uint8_t*>(row) + b * 16 + 2 * sub;
                    wq = pack4((p[0] & 15) - 8, (p[1] & 15) - 8, (p[0] >> 4) - 8, (p[1] >> 4) - 8);
                } else {
                    wq = *reinterpret_cast<const int*>(row + b * 32 + 4 * sub);
                }
                sw = row_scales[b];
            }
#pragma unroll
            for (std::size_t t = 0; t < quant_tokens_per_pass; ++t) {
                if (t >= nt) break;
                const std::int8_t* xc = x_codes + (t0 + t) * blocks * 32 + b * 32;
                int xq = 0;
                if (active) {
                    if constexpr (Int4) {
                        const unsigned j = 2 * sub;
                        xq = pack4(xc[j], xc[j + 1], xc[j + 16], xc[j + 17]);
                    } else {
                        xq = *reinterpret_cast<const int*>(xc + 4 * sub);
                    }
                }
                int isum = __dp4a(wq, xq, 0);  // exact: the order of integer sums does not matter
                isum += __shfl_xor_sync(0xffffffffu, isum, 4);
                isum += __shfl_xor_sync(0xffffffffu, isum, 2);
                isum += __shfl_xor_sync(0xffffffffu, isum, 1);
                if (active && sub == 0) acc[t] += sw * x_scales[(t0 + t) * blocks + b] * static_cast<float>(isum);
            }
        }
#pragma unroll
        for (std::size_t t = 0; t < quant_tokens_per_pass; ++t) {
            if (t >= nt) break;
            const float sum = warp_sum(acc[t]);
            if (lane == 0) y.data[(t0 + t) * y.stride + o] = sum;
        }
    }
}

void launch_quantized(const weight_matrix& w, const_matrix x, matrix y) {
    const std::size_t blocks = (w.cols + 31) / 32, T = x.rows;
    if (reinterpret_cast<std::uintptr_t>(w.data) % 4 != 0 || w.stride % 4 != 0)
        throw rwkv::error("CUDA linear: quantized weight rows must start on 4-byte boundaries");
    const std::size_t code_bytes = T * blocks * 32, scale_offset = (code_bytes + 255) / 256 * 256;
    auto* scratch = static_cast<std::byte*>(detail::thread_scratch(scale_offset + T * blocks * sizeof(float)));
    auto* codes = reinterpret_cast<std::int8_t*>(scratch);
    auto* scales = reinterpret_cast<float*>(scratch + scale_offset);
    quantize_activations<<<detail::blocks_for(T * blocks, warps_per_block), warps_per_block * 32, 0,
                           detail::stream()>>>(x, blocks, codes, scales);
    detail::check_launch("quantize_activations");
    const unsigned grid = detail::blocks_for(w.rows, warps_per_block);
    if (w.type == weight_type::int4)
        linear_quantized<true><<<grid, warps_per_block * 32, 0, detail::stream()>>>(w, codes, scales, T, blocks, y);
    else
        linear_quantized<false><<<grid, warps_per_block * 32, 0, detail::stream()>>>(w, codes, scales, T, blocks, y);
    detail::check_launch("linear (quantized)");
}

// ---- x·M: the LoRA factors ------------------------------------------------------------------------

// y[t, o] = Σ_k x[t, k] · M[k, o]. A block of 32 × 8 threads takes 32 outputs of one token: thread
// (ox, ky) sums k ≡ ky (mod 8), then the 8 partial sums are added in order.
constexpr unsigned project_slices = 8;

__global__ void project_kernel(const_matrix x, weight_matrix m, matrix y) {
    __shared__ float partial[project_slices][32];
    const std::size_t o = blockIdx.x * 32 + threadIdx.x;
    for (std::size_t t = blockIdx.y; t < x.rows; t += gridDim.y) {  // the grid's y extent is at most 65535
        float acc = 0.0f;
        if (o < m.cols)
            for (std::size_t k = threadIdx.y; k < m.rows; k += project_slices)
                acc = fmaf(x.data[t * x.stride + k], detail::weight_at(m, k, o), acc);
        partial[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && o < m.cols) {
            float sum = partial[0][threadIdx.x];
            for (unsigned s = 1; s < project_slices; ++s) sum += partial[s][threadIdx.x];
            y.data[t * y.stride + o] = sum;
        }
        __syncthreads();  // partial is rewritten by the next token
    }
}

// ---- embedding --------------------------------------------------------------------------------------

__global__ void embedding_kernel(weight_matrix table, const std::int32_t* tokens, std::size_t count, matrix x) {
    const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
    if (i >= count * table.cols) return;
    const std::size_t t = i / table.cols, c = i % table.cols;
    x.data[t * x.stride + c] = detail::weight_at(table, static_cast<std::size_t>(tokens[t]), c);
}

}  // namespace

void linear(const weight_matrix& w, const_matrix x, matrix y) {
    if (x.rows == 0 || w.rows == 0) return;
    switch (w.type) {
        case weight_type::f32: return launch_dense<weight_type::f32>(w, x, y);
        case weight_type::bf16: return launch_dense<weight_type::bf16>(w, x, y);
        case weight_type::f16: return launch_dense<weight_type::f16>(w, x, y);
        case weight_type::int8:
        case weight_type::int4: return launch_quantized(w, x, y);
    }
}

void project(const_matrix x, const weight_matrix& m, matrix y) {
    if (x.rows == 0 || m.cols == 0) return;
    const dim3 grid(detail::blocks_for(m.cols, 32), static_cast<unsigned>(std::min<std::size_t>(x.rows, 65535))),
        block(32, project_slices);
    project_kernel<<<grid, block, 0, detail::stream()>>>(x, m, y);
    detail::check_launch("project");
}

void embedding(const weight_matrix& table, const std::int32_t* tokens, std::size_t count, matrix x) {
    const std::size_t n = count * table.cols;
    if (n == 0) return;
    embedding_kernel<<<detail::blocks_for(n, 256), 256, 0, detail::stream()>>>(table, tokens, count, x);
    detail::check_launch("embedding");
}

}  // namespace rwkv::cuda_kernels
