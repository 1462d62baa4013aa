// rwkv/ops/ddlerp.hpp — RWKV-6's data-dependent token shift ("ddlerp", Eagle/Finch paper §5;
// docs/spec/rwkv.md §4.3), shared by RWKV-6, GoldFinch's Finch-C2 and GOLD query blocks:
//
//   d   = prev − a
//   h   = tanh((a + d ⊙ μ_x) · W1)                 W1: [C, K·D]  (K targets, rank D each)
//   x_f = a + d ⊙ (μ_f + h_f · W2_f)   f < K       W2_f: [D, C]; h_f is column block f of h
//
// A composition of project and map: a backend needs no kernel of its own for it.
#pragma once

#include <array>
#include <cassert>
#include <span>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class W, std::size_t K, memory_space Space = host_space>
struct ddlerp_weights {
    vector_view<const float, Space> mu_x;               // [C]
    std::array<vector_view<const float, Space>, K> mu;  // [C] per target
    const_matrix_view<W, Space> w1;                     // [C, K·D]
    std::array<const_matrix_view<W, Space>, K> w2;      // [D, C] per target
};

// Scratch: d, z, m [T, C]; hidden [T, K·D]. Outputs out[f] [T, C].
template <backend Backend, class W, std::size_t K>
void ddlerp(const Backend& be, const ddlerp_weights<W, K, space_of<Backend>>& p, const_activations<Backend> a,
            const_activations<Backend> prev, activations<Backend> d, activations<Backend> z,
            activations<Backend> hidden, activations<Backend> m, const std::array<activations<Backend>, K>& out,
            op_site where = op_site::current()) {
    using cm = const_activations<Backend>;
    const std::size_t D = p.w1.cols / K;
    assert(hidden.cols == K * D && p.w1.cols == K * D);
    op_enter(be);
    map(be, d, fn::subtract{}, prev, a);
    map(be, z, fn::lerp_delta{}, a, cm(d), p.mu_x);
    project(be, cm(z), p.w1, hidden);
    map(be, hidden, fn::tanh{}, cm(hidden));
    for (std::size_t f = 0; f < K; ++f) {
        project(be, cm(hidden.data + f * D, hidden.rows, D, hidden.stride), p.w2[f], m);
        map(be, out[f], fn::lerp_delta_lora{}, a, cm(d), p.mu[f], cm(m));
    }
    op_exit(be, "ddlerp", where, out[0]);  // the first target's x_f
}

}  // namespace rwkv::ops
