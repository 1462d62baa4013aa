// rwkv/ops/channel_mix.hpp — the squared-ReLU feed-forward block shared by every version.
//
//   RWKV-4, 5, 6 (docs/spec/rwkv.md §2.3, §4.3):  out = σ(W_r xr) ⊙ (W_v relu²(W_k xk))
//   RWKV-7 (docs/spec/rwkv.md §5.3):              out = W_v relu²(W_k xk)        (no receptance)
// The caller builds xk and xr with the version's token-shift convention.
#pragma once

#include <cassert>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class W, memory_space Space = host_space>
struct channel_mix_weights {
    const_matrix_view<W, Space> key;         // [F, C]
    const_matrix_view<W, Space> value;       // [C, F]
    const_matrix_view<W, Space> receptance;  // [C, C]; empty for RWKV-7
    bool has_receptance() const noexcept { return !receptance.empty(); }
};

// hidden: scratch [T, F]; gate: scratch [T, C] (unused without receptance); out: [T, C].
template <backend Backend, class W>
void channel_mix(const Backend& be, const channel_mix_weights<W, space_of<Backend>>& w, const_activations<Backend> xk,
                 const_activations<Backend> xr, activations<Backend> hidden, activations<Backend> gate,
                 activations<Backend> out, op_site where = op_site::current()) {
    op_enter(be);
    linear(be, w.key, xk, hidden);
    map(be, hidden, fn::relu_squared{}, const_activations<Backend>(hidden));
    linear(be, w.value, const_activations<Backend>(hidden), out);
    if (w.has_receptance()) {
        assert(xr.rows == xk.rows);
        linear(be, w.receptance, xr, gate);
        map(be, out, fn::sigmoid_gate{}, const_activations<Backend>(out), const_activations<Backend>(gate));
    }
    op_exit(be, "channel_mix", where, out);
}

}  // namespace rwkv::ops
