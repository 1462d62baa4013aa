// src/cuda/common.cuh — what every kernel file of rwkv::cuda_kernels shares: the calling thread's
// stream, error checks that throw rwkv::error, launch shapes, warp and block reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
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

namespace rwkv::cuda_kernels::detail {

// Up to agents_per_launch agents of a batched call, passed by value in a launch's parameters (2 KB,
// within the 4 KB every CUDA version allows): block y = g of the launch serves agent g, whose rows
// are [first[g], first[g] + rows[g]) and whose state entries (up to three: RWKV-4's aa, bb, pp) are
// entry[i][g].
constexpr std::size_t agents_per_launch = 64;
struct agent_chunk {
    unsigned count = 0;
    unsigned first[agents_per_launch] = {}, rows[agents_per_launch] = {};
    float* entry[3][agents_per_launch] = {};
};

// One agent owning every row of the call, its entries at e0, e1, e2.
inline agent_chunk single_agent(std::size_t rows, float* e0, float* e1 = nullptr, float* e2 = nullptr) {
    agent_chunk c;
    c.count = 1;
    c.rows[0] = static_cast<unsigned>(rows);
    c.entry[0][0] = e0;
    c.entry[1][0] = e1;
    c.entry[2][0] = e2;
    return c;
}

// Calls launch(chunk) for the agents of `slots` (those owning rows), agents_per_launch at a time; the
// entries of the i-th slots of `more` (RWKV-4's bb, pp) go to entry[i + 1].
template <class Launch>
void for_each_chunk(const agent_slots& slots, std::initializer_list<const agent_slots*> more, Launch&& launch) {
    agent_chunk c;
    for (std::size_t g = 0; g < slots.agents; ++g) {
        const std::size_t first = slots.row_begin[g], rows = slots.row_begin[g + 1] - first;
        if (rows == 0) continue;
        c.first[c.count] = static_cast<unsigned>(first);
        c.rows[c.count] = static_cast<unsigned>(rows);
        c.entry[0][c.count] = slots.base[g] + slots.offset;
        std::size_t i = 1;
        for (const agent_slots* s : more) c.entry[i++][c.count] = s->base[g] + s->offset;
        if (++c.count == agents_per_launch) {
            launch(c);
            c.count = 0;
        }
    }
    if (c.count > 0) launch(c);
}

}  // namespace rwkv::cuda_kernels::detail
