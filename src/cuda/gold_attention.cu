// src/cuda/gold_attention.cu — GOLD attention over GoldFinch's cache (ops/gold_attention.hpp):
// causal softmax attention per head, query i at absolute position first + i attending keys 0 … p.
// One warp per (query, head) walks the keys with the online (running-max) softmax, each lane
// holding N/32 of the head's channels.
#include <cmath>

#include "common.cuh"

namespace rwkv::cuda_kernels {
namespace {

constexpr unsigned warps_per_block = 4;

template <std::size_t N>
__global__ void gold_attention_kernel(const_matrix q, const_matrix k, const_matrix v, matrix y, std::size_t heads) {
    constexpr std::size_t per_lane = N / 32;
    const std::size_t item = blockIdx.x * static_cast<std::size_t>(warps_per_block) + threadIdx.x / 32;
    if (item >= q.rows * heads) return;
    const unsigned lane = threadIdx.x % 32;
    const std::size_t i = item / heads, c0 = (item % heads) * N + lane * per_lane;
    const std::size_t p = k.rows - q.rows + i;  // absolute position of query i
    const float scale = 1.0f / sqrtf(static_cast<float>(N));
    float qv[per_lane], acc[per_lane] = {};
#pragma unroll
    for (std::size_t e = 0; e < per_lane; ++e) qv[e] = q.data[i * q.stride + c0 + e];
    float running_max = -INFINITY, denom = 0.0f;
    for (std::size_t j = 0; j <= p; ++j) {
        float s = 0.0f;
#pragma unroll
        for (std::size_t e = 0; e < per_lane; ++e) s = fmaf(qv[e], k.data[j * k.stride + c0 + e], s);
        s = detail::warp_sum(s) * scale;
        const float new_max = fmaxf(running_max, s);
        const float correction = expf(running_max - new_max), weight = expf(s - new_max);
        denom = denom * correction + weight;
#pragma unroll
        for (std::size_t e = 0; e < per_lane; ++e)
            acc[e] = acc[e] * correction + weight * v.data[j * v.stride + c0 + e];
        running_max = new_max;
    }
#pragma unroll
    for (std::size_t e = 0; e < per_lane; ++e) y.data[i * y.stride + c0 + e] = acc[e] / denom;
}

}  // namespace

void gold_attention(std::size_t head_size, const_matrix q, const_matrix k, const_matrix v, matrix y) {
    if (q.rows == 0 || head_size == 0) return;
    if (k.rows < q.rows || v.rows != k.rows) throw rwkv::error("CUDA gold_attention: fewer keys than queries");
    const std::size_t heads = q.cols / head_size, items = q.rows * heads;
    const unsigned grid = detail::blocks_for(items, warps_per_block);
    switch (head_size) {
        case 32:
            gold_attention_kernel<32><<<grid, warps_per_block * 32, 0, detail::stream()>>>(q, k, v, y, heads);
            break;
        case 64:
            gold_attention_kernel<64><<<grid, warps_per_block * 32, 0, detail::stream()>>>(q, k, v, y, heads);
            break;
        case 128:
            gold_attention_kernel<128><<<grid, warps_per_block * 32, 0, detail::stream()>>>(q, k, v, y, heads);
            break;
        default:
            throw rwkv::error("CUDA gold_attention: head size " + std::to_string(head_size) +
                              " is not compiled in (32, 64, 128)");
    }
    detail::check_launch("gold_attention");
}

}  // namespace rwkv::cuda_kernels
