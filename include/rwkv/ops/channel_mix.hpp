// rwkv/ops/channel_mix.hpp — the squared-ReLU feed-forward block shared by every version.
//
//   RWKV-4, 5, 6 (spec §2.3, §4.3):  out = σ(W_r xr) ⊙ (W_v relu²(W_k xk))
//   RWKV-7 (spec §5.3):              out = W_v relu²(W_k xk)        (no receptance)
// The caller builds xk and xr with the version's token-shift convention.
#pragma once

#include <cassert>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/map.hpp"

namespace rwkv::ops {

template <class W>
struct channel_mix_weights {
    const_matrix_view<W> key;         // [F, C]
    const_matrix_view<W> value;       // [C, F]
    const_matrix_view<W> receptance;  // [C, C]; empty for RWKV-7
    bool has_receptance() const noexcept { return !receptance.empty(); }
};

// hidden: scratch [T, F]; gate: scratch [T, C] (unused without receptance); out: [T, C].
template <backend Backend, class W>
void channel_mix(const Backend& be, const channel_mix_weights<W>& w, const_matrix_view<float> xk,
                 const_matrix_view<float> xr, matrix_view<float> hidden, matrix_view<float> gate,
                 matrix_view<float> out) {
    linear(be, w.key, xk, hidden);
    map(be, hidden, fn::relu_squared{}, const_matrix_view<float>(hidden));
    linear(be, w.value, const_matrix_view<float>(hidden), out);
    if (w.has_receptance()) {
        assert(xr.rows == xk.rows);
        linear(be, w.receptance, xr, gate);
        map(be, out, fn::sigmoid_gate{}, const_matrix_view<float>(out), const_matrix_view<float>(gate));
    }
}

}  // namespace rwkv::ops
