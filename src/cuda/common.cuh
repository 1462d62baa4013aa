// src/cuda/common.cuh — what every kernel file of rwkv::cuda_kernels shares: the calling thread's
// stream, error checks that throw rwkv::error, launch shapes, warp and block reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "rwkv/backends/cuda/launch.hpp"
#include "rwkv/core/error.hpp"

namespace rwkv::cuda_kernels::detail {

cudaStream_t stream() noexcept;

// Throws rwkv::error naming what failed and CUDA's message.
[[noreturn]] void fail(const char* what, cudaError_t e);

inline void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) fail(what, e);
}
// After a launch: a bad configuration fails here, at the call that caused it.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

inline unsigned blocks_for(std::size_t n, unsigned threads) {
    return static_cast<unsigned>((n + threads - 1) / threads);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// The sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned to every
// thread. `scratch` holds 32 floats of shared memory; it may be reused after the call returns.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by an earlier call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float total = 0.0f;
    for (unsigned w = 0; w < warps; ++w) total += scratch[w];  // the same order in every thread
    return total;
}

}  // namespace rwkv::cuda_kernels::detail

namespace rwkv::cuda_kernels::detail {

// Device memory for a kernel's intermediate results (the int8 activations of a quantized product),
// one buffer per host thread, grown when a call needs more (so only the first calls of a shape
// allocate) and used only by work of that thread's stream.
void* thread_scratch(std::size_t bytes);

}  // namespace rwkv::cuda_kernels::detail
