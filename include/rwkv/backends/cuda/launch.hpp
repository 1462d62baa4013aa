// rwkv/backends/cuda/launch.hpp — what the compiled CUDA kernels (rwkv::cuda_kernels, src/cuda/)
// offer the header-only backend: plain functions over plain arguments.
//
// The kernels are compiled once by nvcc into a small library, the way rwkv::cpu_kernels holds the
// per-ISA SIMD code; a translation unit that uses backends::cuda is ordinary C++ and needs no CUDA
// header. Every pointer here is device memory (cuda_space), except where a comment says host.
// Everything runs on the calling thread's CUDA stream (see set_stream), in call order; a kernel that
// fails to launch throws rwkv::error, and errors raised while kernels run surface at the next
// copy to the host or synchronize.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rwkv::cuda_kernels {

// ---- the device and its memory -------------------------------------------------------------------
struct device_properties {
    char name[256] = {};
    int compute_major = 0, compute_minor = 0;
    int multiprocessors = 0;
    std::size_t global_memory_bytes = 0;
    double memory_bandwidth_bytes_per_s = 0;  // the theoretical peak, from clock and bus width
};

int device_count() noexcept;  // 0 when there is no usable device or driver
device_properties properties(int device);

void* allocate(std::size_t bytes);  // cudaMalloc; std::bad_alloc when the device is full
void deallocate(void* p) noexcept;
void copy_from_host(void* dst, const void* host_src, std::size_t bytes);
void copy_to_host(void* host_dst, const void* src, std::size_t bytes);  // waits for earlier work
void copy(void* dst, const void* src, std::size_t bytes);
void fill(void* dst, unsigned char value, std::size_t bytes);
void synchronize();

// The best of `repeats` timed passes of a read kernel over a fresh buffer of `bytes`, in bytes/s:
// the bandwidth roofline that bench reports decode against.
double read_bandwidth(std::size_t bytes, int repeats);

// The stream the calling thread's kernels and copies go to: a cudaStream_t as an opaque pointer,
// nullptr for the per-thread default stream (the default).
void set_stream(void* stream) noexcept;
void* current_stream() noexcept;

// ---- views ----------------------------------------------------------------------------------------
// A row-major [rows, cols] f32 matrix with `stride` elements between rows.
struct matrix {
    float* data;
    std::size_t rows, cols, stride;
};
struct const_matrix {
    const float* data;
    std::size_t rows, cols, stride;
};

enum class weight_type : std::uint8_t { f32, bf16, f16, int8, int4 };

// A [rows, cols] weight matrix. f32/bf16/f16: `data` with `stride` elements between rows.
// int8/int4 (core/quant.hpp's layout): `data` the codes with `stride` bytes between rows, `scales`
// one f32 per 32 weights with `scale_stride` floats between rows.
struct weight_matrix {
    const void* data;
    const float* scales;
    std::size_t rows, cols, stride, scale_stride;
    weight_type type;
};

// The agents of a batched call (core/agent_batch.hpp's state_slots; host arrays): agent g's state
// entry starts `offset` floats into base[g] (device memory), and it owns rows [row_begin[g],
// row_begin[g + 1]) of the call's activations. The per-agent ops below run every agent in one launch
// (64 agents a launch), the pointers travelling in the launch's parameters.
struct agent_slots {
    float* const* base;
    const std::size_t* row_begin;
    std::size_t agents, offset;
};

// ---- ops (ops/*.hpp states the math of each) -----------------------------------------------------
// y[T, O] = x[T, K] · Wᵀ (W [O, K]); for int8/int4 W, x is quantized to int8 blocks first (core/quant.hpp).
void linear(const weight_matrix& w, const_matrix x, matrix y);
// y[T, O] = x[T, K] · M (M [K, O]), f32 accumulation of dequantized M.
void project(const_matrix x, const weight_matrix& m, matrix y);
// x[t] = table[tokens[t]] widened to f32.
void embedding(const weight_matrix& table, const std::int32_t* tokens, std::size_t count, matrix x);
// prev[0] = sx, prev[t] = a[t − 1]; then sx = a[T − 1].
void token_shift(const_matrix a, float* sx, matrix prev);
void token_shift_agents(const_matrix a, const agent_slots& sx, matrix prev);
void group_norm(const_matrix x, const float* weight, const float* bias, std::size_t groups, float eps, matrix y);
void rms_norm(const_matrix x, matrix y, float eps);
void l2_normalize_groups(matrix x, std::size_t group_size, float eps);
void wkv4(float* aa, float* bb, float* pp, const float* w, const float* u, const_matrix k, const_matrix v,
          matrix out);
void wkv4_agents(const agent_slots& aa, const agent_slots& bb, const agent_slots& pp, const float* w, const float* u,
                 const_matrix k, const_matrix v, matrix out);
// state [heads, N, N]; N is 32, 64 or 128.
void wkv6(std::size_t head_size, float* state, std::size_t heads, const_matrix r, const_matrix w, const_matrix k,
          const_matrix v, const float* u, matrix y);
void wkv6_agents(std::size_t head_size, const agent_slots& state, const_matrix r, const_matrix w, const_matrix k,
                 const_matrix v, const float* u, matrix y);
void wkv7(std::size_t head_size, float* state, std::size_t heads, const_matrix r, const_matrix w, const_matrix k,
          const_matrix v, const_matrix a, const_matrix b, matrix y);
void wkv7_agents(std::size_t head_size, const agent_slots& state, const_matrix r, const_matrix w, const_matrix k,
                 const_matrix v, const_matrix a, const_matrix b, matrix y);
void wkv7_bonus(std::size_t head_size, const_matrix r, const_matrix k, const_matrix v, const float* r_k, matrix y);
void gold_attention(std::size_t head_size, const_matrix q, const_matrix k, const_matrix v, matrix y);
// Context-cache rows: dtype_code is rwkv::dtype's value (f32, bf16 or f16).
void cache_store(const_matrix rows, std::uint8_t dtype_code, void* dst);
void cache_load(const void* src, std::uint8_t dtype_code, matrix out);

// ---- element-wise maps (ops/map.hpp) ------------------------------------------------------------
// An input of a map: a matrix with the output's shape, or (stride 0) a channel vector broadcast
// over the rows.
struct map_operand {
    const float* data;
    std::size_t stride;
};
// The functors of ops/functors.hpp, by number (backends/cuda/map_functors.hpp lists them).
void map(int functor_id, matrix out, const map_operand* inputs, std::size_t arity);

}  // namespace rwkv::cuda_kernels
