// rwkv/ops/map.hpp — element-wise maps over [T, C] activations, with per-channel broadcasting.
//
// `map(be, out, fn, in...)` sets out[t][c] = fn(in[t][c]...). An input is either a matrix with the
// shape of `out`, or a channel vector (std::span of length C) broadcast over the rows — the form
// every "x + (prev − x) ⊙ μ" and "σ(bias + LoRA)" in the papers takes. The functor is the math
// (a named struct from ops/functors.hpp, so that a device kernel compiled on its own can
// instantiate it too); the backend decides how to run it (a loop, SIMD lanes, a CUDA grid).
#pragma once

#include <cassert>
#include <cmath>
#include <span>
#include <type_traits>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/host_device.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

// Input accessors of host kernels: a matrix is indexed [t][c], a channel vector [c].
inline float element(const_matrix_view<float> m, std::size_t t, std::size_t c) noexcept { return m(t, c); }
inline float element(vector_view<const float> v, std::size_t, std::size_t c) noexcept { return v[c]; }

// An input of a map in space S: a [T, C] matrix or a [C] channel vector.
template <class In, class S>
concept map_input = std::is_convertible_v<In, const_matrix_view<float, S>> ||
                    std::is_convertible_v<In, vector_view<const float, S>>;

template <class S, class In>
bool map_shape_matches(const In& in, const matrix_view<float, S>& out) {
    if constexpr (std::is_convertible_v<In, const_matrix_view<float, S>>) {
        const const_matrix_view<float, S> m = in;
        return m.rows == out.rows && m.cols == out.cols;
    } else {
        const vector_view<const float, S> v = in;
        return v.size() == out.cols;
    }
}

template <class Backend>
struct map_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no element-wise map kernel");
};

// `ops::map(be, out, fn, in...)` reads as a function call but names a class template: a function
// template cannot take the defaulted call site (ops/observe.hpp) after a deduced pack of inputs,
// while a constructor can, since class template argument deduction (the guide below, which deduces
// as the function did) fixes In... before the constructor is called. The temporary's constructor
// runs the op; the object holds nothing.
template <backend Backend, class Fn, class... In>
    requires(map_input<In, space_of<Backend>> && ...)
struct map {
    map(const Backend& be, activations<Backend> out, Fn&& fn, const In&... in, op_site where = op_site::current()) {
        assert((map_shape_matches<space_of<Backend>>(in, out) && ...));
        op_enter(be);
        map_kernel<Backend>::run(be, out, fn, in...);
        op_exit(be, "map", where, out);
    }
};

template <class Backend, class Fn, class... In>
map(const Backend&, activations<Backend>, Fn&&, const In&...) -> map<Backend, Fn, In...>;

// exp and tanh on either side: the std:: float overloads on the host, CUDA's own in device code
// (nvcc's device pass defines __CUDA_ARCH__; both passes see the same host-device declarations).
namespace math {
#ifdef __CUDA_ARCH__
RWKV_HOST_DEVICE inline float exp(float x) noexcept { return ::expf(x); }
RWKV_HOST_DEVICE inline float tanh(float x) noexcept { return ::tanhf(x); }
#else
RWKV_HOST_DEVICE inline float exp(float x) noexcept { return std::exp(x); }
RWKV_HOST_DEVICE inline float tanh(float x) noexcept { return std::tanh(x); }
#endif
}  // namespace math

// The scalar functions the architectures use, in one place.
RWKV_HOST_DEVICE inline float sigmoid(float x) noexcept { return 1.0f / (1.0f + math::exp(-x)); }
RWKV_HOST_DEVICE inline float silu(float x) noexcept { return x * sigmoid(x); }
RWKV_HOST_DEVICE inline float relu_squared(float x) noexcept { return x > 0.0f ? x * x : 0.0f; }

}  // namespace rwkv::ops
