// src/cuda/rows.cu — the row-wise ops: token shift, the normalizations, the context cache's
// conversions. Norms take one block per (row, group), sums in f32 in a fixed order.
#include <cuda_fp16.h>

#include "common.cuh"
#include "rwkv/core/dtype.hpp"
#include "weights.cuh"

namespace rwkv::cuda_kernels {
namespace {

using detail::block_sum;

// One thread per (channel, agent) walks the agent's rows, so its first row reads sx before sx is
// overwritten.
__global__ void token_shift_kernel(detail::agent_chunk agents, const_matrix a, matrix prev) {
    const std::size_t c = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x, g = blockIdx.y;
    if (c >= a.cols) return;
    float* sx = agents.entry[0][g];
    const std::size_t first = agents.first[g], last = first + agents.rows[g] - 1;
    prev.data[first * prev.stride + c] = sx[c];
    for (std::size_t t = first + 1; t <= last; ++t) prev.data[t * prev.stride + c] = a.data[(t - 1) * a.stride + c];
    sx[c] = a.data[last * a.stride + c];
}

void launch_token_shift(const detail::agent_chunk& c, const_matrix a, matrix prev) {
    const dim3 grid(detail::blocks_for(a.cols, 256), c.count);
    token_shift_kernel<<<grid, 256, 0, detail::stream()>>>(c, a, prev);
    detail::check_launch("token_shift");
}

constexpr unsigned norm_threads = 128;

// y = (x − mean) / √(var + eps) ⊙ weight + bias over each group (two passes, biased variance).
__global__ void group_norm_kernel(const_matrix x, const float* weight, const float* bias, std::size_t n, float eps,
                                  matrix y) {
    __shared__ float scratch[32];
    const std::size_t t = blockIdx.x, c0 = blockIdx.y * n;
    const float* xr = x.data + t * x.stride + c0;
    float s = 0.0f;
    for (std::size_t c = threadIdx.x; c < n; c += blockDim.x) s += xr[c];
    const float mean = block_sum(s, scratch) / static_cast<float>(n);
    float q = 0.0f;
    for (std::size_t c = threadIdx.x; c < n; c += blockDim.x) {
        const float d = xr[c] - mean;
        q = fmaf(d, d, q);
    }
    const float var = block_sum(q, scratch) / static_cast<float>(n);
    const float inv = 1.0f / sqrtf(var + eps);
    float* yr = y.data + t * y.stride + c0;
    for (std::size_t c = threadIdx.x; c < n; c += blockDim.x)
        yr[c] = (xr[c] - mean) * inv * weight[c0 + c] + bias[c0 + c];
}

// y = x / (√(mean x²) + eps).
__global__ void rms_norm_kernel(const_matrix x, matrix y, float eps) {
    __shared__ float scratch[32];
    const std::size_t t = blockIdx.x;
    const float* xr = x.data + t * x.stride;
    float q = 0.0f;
    for (std::size_t c = threadIdx.x; c < x.cols; c += blockDim.x) q = fmaf(xr[c], xr[c], q);
    const float rms = sqrtf(block_sum(q, scratch) / static_cast<float>(x.cols)) + eps;
    float* yr = y.data + t * y.stride;
    for (std::size_t c = threadIdx.x; c < x.cols; c += blockDim.x) yr[c] = xr[c] / rms;
}

// x ← x / max(‖x‖, eps) over each group of n.
__global__ void l2_normalize_kernel(matrix x, std::size_t n, float eps) {
    __shared__ float scratch[32];
    float* xr = x.data + blockIdx.x * x.stride + blockIdx.y * n;
    float q = 0.0f;
    for (std::size_t c = threadIdx.x; c < n; c += blockDim.x) q = fmaf(xr[c], xr[c], q);
    const float norm = fmaxf(sqrtf(block_sum(q, scratch)), eps);
    for (std::size_t c = threadIdx.x; c < n; c += blockDim.x) xr[c] = xr[c] / norm;
}

// ---- the context cache: f32 rows ↔ the cache dtype (round to nearest even, as core/dtype.hpp) ----

__device__ std::uint16_t float_to_bf16(float f) {
    std::uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}

__global__ void cache_store_kernel(const_matrix rows, std::uint8_t type, void* dst) {
    const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
    if (i >= rows.rows * rows.cols) return;
    const float v = rows.data[(i / rows.cols) * rows.stride + i % rows.cols];
    switch (static_cast<dtype>(type)) {
        case dtype::bf16: static_cast<std::uint16_t*>(dst)[i] = float_to_bf16(v); break;
        case dtype::f16: static_cast<std::uint16_t*>(dst)[i] = __half_as_ushort(__float2half_rn(v)); break;
        default: static_cast<float*>(dst)[i] = v; break;
    }
}

__global__ void cache_load_kernel(const void* src, std::uint8_t type, matrix out) {
    const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
    if (i >= out.rows * out.cols) return;
    float v;
    switch (static_cast<dtype>(type)) {
        case dtype::bf16: v = detail::bf16_to_float(static_cast<const std::uint16_t*>(src)[i]); break;
        case dtype::f16: v = detail::f16_to_float(static_cast<const std::uint16_t*>(src)[i]); break;
        default: v = static_cast<const float*>(src)[i]; break;
    }
    out.data[(i / out.cols) * out.stride + i % out.cols] = v;
}

void check_cache_dtype(std::uint8_t type) {
    const auto d = static_cast<dtype>(type);
    if (d != dtype::f32 && d != dtype::bf16 && d != dtype::f16)
        throw rwkv::error("CUDA context cache: the cache dtype must be f32, bf16 or f16");
}

}  // namespace

void token_shift(const_matrix a, float* sx, matrix prev) {
    if (a.rows == 0 || a.cols == 0) return;
    launch_token_shift(detail::single_agent(a.rows, sx), a, prev);
}

void token_shift_agents(const_matrix a, const agent_slots& sx, matrix prev) {
    if (a.cols == 0) return;
    detail::for_each_chunk(sx, {}, [&](const detail::agent_chunk& c) { launch_token_shift(c, a, prev); });
}

void group_norm(const_matrix x, const float* weight, const float* bias, std::size_t groups, float eps, matrix y) {
    if (x.rows == 0 || groups == 0) return;
    const dim3 grid(static_cast<unsigned>(x.rows), static_cast<unsigned>(groups));
    group_norm_kernel<<<grid, norm_threads, 0, detail::stream()>>>(x, weight, bias, x.cols / groups, eps, y);
    detail::check_launch("group_norm");
}

void rms_norm(const_matrix x, matrix y, float eps) {
    if (x.rows == 0) return;
    rms_norm_kernel<<<static_cast<unsigned>(x.rows), norm_threads, 0, detail::stream()>>>(x, y, eps);
    detail::check_launch("rms_norm");
}

void l2_normalize_groups(matrix x, std::size_t group_size, float eps) {
    if (x.rows == 0 || group_size == 0) return;
    const dim3 grid(static_cast<unsigned>(x.rows), static_cast<unsigned>(x.cols / group_size));
    l2_normalize_kernel<<<grid, norm_threads, 0, detail::stream()>>>(x, group_size, eps);
    detail::check_launch("l2_normalize_groups");
}

void cache_store(const_matrix rows, std::uint8_t dtype_code, void* dst) {
    check_cache_dtype(dtype_code);
    const std::size_t n = rows.rows * rows.cols;
    if (n == 0) return;
    cache_store_kernel<<<detail::blocks_for(n, 256), 256, 0, detail::stream()>>>(rows, dtype_code, dst);
    detail::check_launch("cache_store");
}

void cache_load(const void* src, std::uint8_t dtype_code, matrix out) {
    check_cache_dtype(dtype_code);
    const std::size_t n = out.rows * out.cols;
    if (n == 0) return;
    cache_load_kernel<<<detail::blocks_for(n, 256), 256, 0, detail::stream()>>>(src, dtype_code, out);
    detail::check_launch("cache_load");
}

}  // namespace rwkv::cuda_kernels
