// tests/support/isolated_backend.hpp — a backend whose memory the host cannot touch, for tests only.
//
// rwkv::testing::isolated_backend is what a device backend looks like to the models, without a
// device: its memory space is isolated_space (tests/support/isolated_space.hpp: a separate region
// kept PROT_NONE, views that do not dereference), so every weight, state value, cache row and
// workspace matrix of a model on it lives where host code faults. Its kernels "run inside the
// space": each takes the space's access guard, views its arguments as host memory, and calls the
// reference kernel. Whatever else touches the space's memory — a model file reading a weight, a
// boundary copy forgotten, a state edited on the host — fails to compile (the views have no
// element access) or dies with SIGSEGV (a pointer smuggled out).
//
// Its kernels are the reference kernels, so a model on it must give the reference backend's
// numbers bit for bit: tests/test_isolated_backend.cpp checks every architecture that way.
#pragma once

#include <string_view>
#include <type_traits>

#include "rwkv/backends/reference.hpp"
#include "rwkv/core/agent_batch.hpp"
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
#include "isolated_space.hpp"

namespace rwkv::testing {

struct isolated_backend {
    static constexpr std::string_view name = "isolated";
    using memory_space = isolated_space;
};

namespace isolated_detail {

// A view of the space as the same view of host memory (valid while an access guard is held).
template <class T>
    requires(!quant_format<std::remove_const_t<T>>)
matrix_view<T> host(matrix_view<T, isolated_space> m) noexcept {
    return {m.data, m.rows, m.cols, m.stride};
}
template <quant_format Q>
const_matrix_view<Q> host(const_matrix_view<Q, isolated_space> m) noexcept {
    return {m.codes, m.scales, m.rows, m.cols, m.code_stride, m.scale_stride};
}
template <class T>
vector_view<T> host(vector_view<T, isolated_space> v) noexcept {
    return {v.data_handle(), v.size()};
}
template <class T>
tensor3_view<T> host(tensor3_view<T, isolated_space> t) noexcept {
    return {t.data, t.d0, t.d1, t.d2};
}
// Everything else a kernel takes (functors, sizes, epsilons, dtypes, state slots and raw pointers
// into the space, which the reference kernels reach inside the guard) passes through.
template <class X>
const X& host(const X& x) noexcept {
    return x;
}

// Calls kernel(reference{}, host(args)...) with the space open.
template <class Kernel, class... Args>
void run_inside(Kernel&& kernel, const Args&... args) {
    const isolated_space::access guard;
    kernel(backends::reference{}, host(args)...);
}

}  // namespace isolated_detail
}  // namespace rwkv::testing

namespace rwkv::ops {

// Every kernel: open the space, run the reference kernel on host views of the arguments.
#define RWKV_ISOLATED_FORWARD(function, ...)                                                                 \
    static void function(const testing::isolated_backend&, const auto&... args) {                          \
        testing::isolated_detail::run_inside([](const auto&... a) { __VA_ARGS__::function(a...); }, args...); \
    }

template <>
struct map_kernel<testing::isolated_backend> {
    template <class Fn, class... In>
    static void run(const testing::isolated_backend&, matrix_view<float, testing::isolated_space> out, Fn& fn,
                    const In&... in) {
        const testing::isolated_space::access guard;
        using testing::isolated_detail::host;
        map_kernel<backends::reference>::run(backends::reference{}, host(out), fn, host(in)...);
    }
};

template <class W>
struct linear_kernel<testing::isolated_backend, W> {
    RWKV_ISOLATED_FORWARD(linear, linear_kernel<backends::reference, W>)
    RWKV_ISOLATED_FORWARD(project, linear_kernel<backends::reference, W>)
};

template <>
struct embedding_kernel<testing::isolated_backend> {
    RWKV_ISOLATED_FORWARD(run, embedding_kernel<backends::reference>)
};

template <>
struct token_shift_kernel<testing::isolated_backend> {
    RWKV_ISOLATED_FORWARD(run, token_shift_kernel<backends::reference>)
};

template <>
struct norm_kernel<testing::isolated_backend> {
    RWKV_ISOLATED_FORWARD(group_norm, norm_kernel<backends::reference>)
    RWKV_ISOLATED_FORWARD(l2_normalize_groups, norm_kernel<backends::reference>)
    RWKV_ISOLATED_FORWARD(rms_norm, norm_kernel<backends::reference>)
};

template <>
struct wkv4_kernel<testing::isolated_backend> {
    RWKV_ISOLATED_FORWARD(run, wkv4_kernel<backends::reference>)
};

template <std::size_t N>
struct wkv6_kernel<testing::isolated_backend, N> {
    RWKV_ISOLATED_FORWARD(run, wkv6_kernel<backends::reference, N>)
};

template <std::size_t N>
struct wkv7_kernel<testing::isolated_backend, N> {
    RWKV_ISOLATED_FORWARD(run, wkv7_kernel<backends::reference, N>)
};

template <>
struct wkv7_bonus_kernel<testing::isolated_backend> {
    RWKV_ISOLATED_FORWARD(run, wkv7_bonus_kernel<backends::reference>)
};

template <std::size_t N>
struct gold_attention_kernel<testing::isolated_backend, N> {
    RWKV_ISOLATED_FORWARD(run, gold_attention_kernel<backends::reference, N>)
};

template <>
struct cache_kernel<testing::isolated_backend> {
    RWKV_ISOLATED_FORWARD(store, cache_kernel<backends::reference>)
    RWKV_ISOLATED_FORWARD(load, cache_kernel<backends::reference>)
};

#undef RWKV_ISOLATED_FORWARD

}  // namespace rwkv::ops
