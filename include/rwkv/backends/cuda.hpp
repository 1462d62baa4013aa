// rwkv/backends/cuda.hpp — the CUDA backend: NVIDIA GPU memory and kernels through the backend trait.
//
// `backends::cuda` pairs an execution space (kernels on the calling thread's CUDA stream) with a
// memory space, `cuda_space` (device memory from cudaMalloc, which host code cannot dereference:
// its views have no element access). A model<backends::cuda, P> keeps its weights, states, GoldFinch
// cache and workspace on the device and copies only token ids in and logits out (docs/design.md,
// "Models in a memory space"); the model files are the same as for every other backend.
//
// The kernels are compiled by nvcc into rwkv::cuda_kernels (src/cuda/; CMake builds it when
// RWKV_ENABLE_CUDA is on, the default when nvcc is found); this header is plain C++ and declares
// them through backends/cuda/launch.hpp. Link rwkv::cuda_kernels to use it.
//
// Streams: each host thread issues its work on its own stream (the per-thread default stream, or
// the one given to cuda_kernels::set_stream), so several threads may share one model, each with its
// own states and workspace, as on the cpu backend. Copies to the host wait for that stream.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "rwkv/backends/cuda/launch.hpp"
#include "rwkv/backends/cuda/map_functors.hpp"
#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/memory_space.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/cache.hpp"
#include "rwkv/ops/embedding.hpp"
#include "rwkv/ops/gold_attention.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/token_shift.hpp"
#include "rwkv/ops/wkv4.hpp"
#include "rwkv/ops/wkv6.hpp"
#include "rwkv/ops/wkv7.hpp"

namespace rwkv {

// Device memory of the current CUDA device (core/memory_space.hpp states the contract).
struct cuda_space {
    static constexpr std::string_view name = "cuda";
    static constexpr bool host_accessible = false;
    static constexpr std::size_t max_alignment = 256;  // what cudaMalloc guarantees

    static void* allocate(std::size_t bytes, std::size_t alignment = max_alignment) {
        assert(alignment <= max_alignment);
        (void)alignment;
        return bytes == 0 ? nullptr : cuda_kernels::allocate(bytes);
    }
    static void deallocate(void* p, std::size_t, std::size_t = max_alignment) noexcept {
        if (p != nullptr) cuda_kernels::deallocate(p);
    }
    static void copy_from_host(void* dst, const void* src, std::size_t bytes) {
        cuda_kernels::copy_from_host(dst, src, bytes);
    }
    static void copy_to_host(void* dst, const void* src, std::size_t bytes) { cuda_kernels::copy_to_host(dst, src, bytes); }
    static void copy(void* dst, const void* src, std::size_t bytes) { cuda_kernels::copy(dst, src, bytes); }
    static void fill(void* dst, std::byte value, std::size_t bytes) {
        cuda_kernels::fill(dst, std::to_integer<unsigned char>(value), bytes);
    }
    static void synchronize() { cuda_kernels::synchronize(); }
};
static_assert(memory_space<cuda_space> && !host_accessible_space<cuda_space>);

namespace backends {

struct cuda {
    static constexpr std::string_view name = "cuda";
    using memory_space = cuda_space;

    // Whether a CUDA device is usable here (a driver, and at least one device visible).
    static bool available() noexcept { return cuda_kernels::device_count() > 0; }
};

}  // namespace backends

namespace cuda_detail {

inline cuda_kernels::matrix arg(matrix_view<float, cuda_space> m) noexcept { return {m.data, m.rows, m.cols, m.stride}; }
inline cuda_kernels::const_matrix arg(const_matrix_view<float, cuda_space> m) noexcept {
    return {m.data, m.rows, m.cols, m.stride};
}

template <class W>
constexpr cuda_kernels::weight_type weight_type_of() noexcept {
    if constexpr (std::is_same_v<W, float>) return cuda_kernels::weight_type::f32;
    else if constexpr (std::is_same_v<W, bf16>) return cuda_kernels::weight_type::bf16;
    else if constexpr (std::is_same_v<W, f16>) return cuda_kernels::weight_type::f16;
    else if constexpr (std::is_same_v<W, int8_block>) return cuda_kernels::weight_type::int8;
    else {
        static_assert(std::is_same_v<W, int4_block>, "rwkv: the CUDA backend has no kernel for this weight type");
        return cuda_kernels::weight_type::int4;
    }
}

template <class W>
cuda_kernels::weight_matrix weight_arg(const_matrix_view<W, cuda_space> m) noexcept {
    if constexpr (quant_format<W>)
        return {m.codes, m.scales, m.rows, m.cols, m.code_stride, m.scale_stride, weight_type_of<W>()};
    else
        return {m.data, nullptr, m.rows, m.cols, m.stride, 0, weight_type_of<W>()};
}

// The agents of a batched call as the kernels take them; nullopt for a single agent's entry (then the
// single-agent kernel runs on state_slots::agent(0) over every row).
inline std::optional<cuda_kernels::agent_slots> agents_arg(const state_slots& s) noexcept {
    if (s.base == nullptr || s.row_begin == nullptr) return std::nullopt;
    return cuda_kernels::agent_slots{s.base, s.row_begin, s.agents, s.offset};
}

// A map input: a matrix, or a channel vector broadcast over the rows (stride 0).
template <class In>
cuda_kernels::map_operand operand(const In& in) noexcept {
    if constexpr (std::is_convertible_v<In, const_matrix_view<float, cuda_space>>) {
        const const_matrix_view<float, cuda_space> m = in;
        return {m.data, m.stride};
    } else {
        const vector_view<const float, cuda_space> v = in;
        return {v.data_handle(), 0};
    }
}

}  // namespace cuda_detail

namespace ops {

template <>
struct map_kernel<backends::cuda> {
    template <class Fn, class... In>
    static void run(const backends::cuda&, matrix_view<float, cuda_space> out, Fn&, const In&... in) {
        constexpr int id = cuda_kernels::map_functor_id<std::remove_cvref_t<Fn>>;
        static_assert(id >= 0, "rwkv: the CUDA map kernel is not compiled for this functor "
                               "(list it in backends/cuda/map_functors.hpp)");
        const cuda_kernels::map_operand inputs[sizeof...(In) + 1] = {cuda_detail::operand(in)..., {nullptr, 0}};
        cuda_kernels::map(id, cuda_detail::arg(out), inputs, sizeof...(In));
    }
};

template <class W>
struct linear_kernel<backends::cuda, W> {
    static void linear(const backends::cuda&, const_matrix_view<W, cuda_space> weight,
                       const_matrix_view<float, cuda_space> x, matrix_view<float, cuda_space> y) {
        cuda_kernels::linear(cuda_detail::weight_arg(weight), cuda_detail::arg(x), cuda_detail::arg(y));
    }
    static void project(const backends::cuda&, const_matrix_view<float, cuda_space> x,
                        const_matrix_view<W, cuda_space> m, matrix_view<float, cuda_space> y) {
        cuda_kernels::project(cuda_detail::arg(x), cuda_detail::weight_arg(m), cuda_detail::arg(y));
    }
};

template <>
struct embedding_kernel<backends::cuda> {
    template <class E>
    static void run(const backends::cuda&, const_matrix_view<E, cuda_space> table,
                    vector_view<const std::int32_t, cuda_space> tokens, matrix_view<float, cuda_space> x) {
        cuda_kernels::embedding(cuda_detail::weight_arg(table), tokens.data_handle(), tokens.size(),
                                cuda_detail::arg(x));
    }
};

template <>
struct token_shift_kernel<backends::cuda> {
    static void run(const backends::cuda&, const_matrix_view<float, cuda_space> a, vector_view<float, cuda_space> sx,
                    matrix_view<float, cuda_space> prev) {
        cuda_kernels::token_shift(cuda_detail::arg(a), sx.data_handle(), cuda_detail::arg(prev));
    }
    static void run_agents(const backends::cuda& be, const_matrix_view<float, cuda_space> a, const state_slots& sx,
                           matrix_view<float, cuda_space> prev) {
        if (const auto agents = cuda_detail::agents_arg(sx))
            cuda_kernels::token_shift_agents(cuda_detail::arg(a), *agents, cuda_detail::arg(prev));
        else
            run(be, a, vector_view<float, cuda_space>(sx.agent(0), a.cols), prev);
    }
};

template <>
struct norm_kernel<backends::cuda> {
    static void group_norm(const backends::cuda&, const_matrix_view<float, cuda_space> x,
                           vector_view<const float, cuda_space> weight, vector_view<const float, cuda_space> bias,
                           std::size_t groups, float eps, matrix_view<float, cuda_space> y) {
        cuda_kernels::group_norm(cuda_detail::arg(x), weight.data_handle(), bias.data_handle(), groups, eps,
                                 cuda_detail::arg(y));
    }
    static void rms_norm(const backends::cuda&, const_matrix_view<float, cuda_space> x,
                         matrix_view<float, cuda_space> y, float eps) {
        cuda_kernels::rms_norm(cuda_detail::arg(x), cuda_detail::arg(y), eps);
    }
    static void l2_normalize_groups(const backends::cuda&, matrix_view<float, cuda_space> x, std::size_t n, float eps) {
        cuda_kernels::l2_normalize_groups(cuda_detail::arg(x), n, eps);
    }
};

template <>
struct wkv4_kernel<backends::cuda> {
    static void run(const backends::cuda&, vector_view<float, cuda_space> aa, vector_view<float, cuda_space> bb,
                    vector_view<float, cuda_space> pp, vector_view<const float, cuda_space> w,
                    vector_view<const float, cuda_space> u, const_matrix_view<float, cuda_space> k,
                    const_matrix_view<float, cuda_space> v, matrix_view<float, cuda_space> out) {
        cuda_kernels::wkv4(aa.data_handle(), bb.data_handle(), pp.data_handle(), w.data_handle(), u.data_handle(),
                           cuda_detail::arg(k), cuda_detail::arg(v), cuda_detail::arg(out));
    }
    static void run_agents(const backends::cuda&, const state_slots& aa, const state_slots& bb, const state_slots& pp,
                           vector_view<const float, cuda_space> w, vector_view<const float, cuda_space> u,
                           const_matrix_view<float, cuda_space> k, const_matrix_view<float, cuda_space> v,
                           matrix_view<float, cuda_space> out) {
        using cuda_detail::arg;
        const auto a = cuda_detail::agents_arg(aa), b = cuda_detail::agents_arg(bb), p = cuda_detail::agents_arg(pp);
        if (a && b && p)
            cuda_kernels::wkv4_agents(*a, *b, *p, w.data_handle(), u.data_handle(), arg(k), arg(v), arg(out));
        else
            cuda_kernels::wkv4(aa.agent(0), bb.agent(0), pp.agent(0), w.data_handle(), u.data_handle(), arg(k), arg(v),
                               arg(out));
    }
};

template <std::size_t N>
struct wkv6_kernel<backends::cuda, N> {
    static void run(const backends::cuda&, tensor3_view<float, cuda_space> state, const_matrix_view<float, cuda_space> r,
                    const_matrix_view<float, cuda_space> w, const_matrix_view<float, cuda_space> k,
                    const_matrix_view<float, cuda_space> v, vector_view<const float, cuda_space> u,
                    matrix_view<float, cuda_space> y) {
        using cuda_detail::arg;
        cuda_kernels::wkv6(N, state.data, state.d0, arg(r), arg(w), arg(k), arg(v), u.data_handle(), arg(y));
    }
    static void run_agents(const backends::cuda&, const state_slots& state, const_matrix_view<float, cuda_space> r,
                           const_matrix_view<float, cuda_space> w, const_matrix_view<float, cuda_space> k,
                           const_matrix_view<float, cuda_space> v, vector_view<const float, cuda_space> u,
                           matrix_view<float, cuda_space> y) {
        using cuda_detail::arg;
        if (const auto agents = cuda_detail::agents_arg(state))
            cuda_kernels::wkv6_agents(N, *agents, arg(r), arg(w), arg(k), arg(v), u.data_handle(), arg(y));
        else
            cuda_kernels::wkv6(N, state.agent(0), r.cols / N, arg(r), arg(w), arg(k), arg(v), u.data_handle(), arg(y));
    }
};

template <std::size_t N>
struct wkv7_kernel<backends::cuda, N> {
    static void run(const backends::cuda&, tensor3_view<float, cuda_space> state, const_matrix_view<float, cuda_space> r,
                    const_matrix_view<float, cuda_space> w, const_matrix_view<float, cuda_space> k,
                    const_matrix_view<float, cuda_space> v, const_matrix_view<float, cuda_space> a,
                    const_matrix_view<float, cuda_space> b, matrix_view<float, cuda_space> y) {
        using cuda_detail::arg;
        cuda_kernels::wkv7(N, state.data, state.d0, arg(r), arg(w), arg(k), arg(v), arg(a), arg(b), arg(y));
    }
    static void run_agents(const backends::cuda&, const state_slots& state, const_matrix_view<float, cuda_space> r,
                           const_matrix_view<float, cuda_space> w, const_matrix_view<float, cuda_space> k,
                           const_matrix_view<float, cuda_space> v, const_matrix_view<float, cuda_space> a,
                           const_matrix_view<float, cuda_space> b, matrix_view<float, cuda_space> y) {
        using cuda_detail::arg;
        if (const auto agents = cuda_detail::agents_arg(state))
            cuda_kernels::wkv7_agents(N, *agents, arg(r), arg(w), arg(k), arg(v), arg(a), arg(b), arg(y));
        else
            cuda_kernels::wkv7(N, state.agent(0), r.cols / N, arg(r), arg(w), arg(k), arg(v), arg(a), arg(b), arg(y));
    }
};

template <>
struct wkv7_bonus_kernel<backends::cuda> {
    static void run(const backends::cuda&, std::size_t n, const_matrix_view<float, cuda_space> r,
                    const_matrix_view<float, cuda_space> k, const_matrix_view<float, cuda_space> v,
                    vector_view<const float, cuda_space> r_k, matrix_view<float, cuda_space> y) {
        using cuda_detail::arg;
        cuda_kernels::wkv7_bonus(n, arg(r), arg(k), arg(v), r_k.data_handle(), arg(y));
    }
};

template <std::size_t N>
struct gold_attention_kernel<backends::cuda, N> {
    static void run(const backends::cuda&, const_matrix_view<float, cuda_space> q,
                    const_matrix_view<float, cuda_space> k, const_matrix_view<float, cuda_space> v,
                    matrix_view<float, cuda_space> y) {
        using cuda_detail::arg;
        cuda_kernels::gold_attention(N, arg(q), arg(k), arg(v), arg(y));
    }
};

template <>
struct cache_kernel<backends::cuda> {
    static void store(const backends::cuda&, const_matrix_view<float, cuda_space> rows, dtype type, std::byte* dst) {
        cuda_kernels::cache_store(cuda_detail::arg(rows), static_cast<std::uint8_t>(type), dst);
    }
    static void load(const backends::cuda&, const std::byte* src, dtype type, matrix_view<float, cuda_space> out) {
        cuda_kernels::cache_load(src, static_cast<std::uint8_t>(type), cuda_detail::arg(out));
    }
};

}  // namespace ops
}  // namespace rwkv
