// rwkv/ops/lora.hpp — low-rank projections: out = f(x · A) · B (docs/spec/rwkv.md §1.2).
//
// RWKV-6 and RWKV-7 compute their data-dependent quantities through rank-D bottlenecks:
//   RWKV-6: ddlerp  tanh(z · time_maa_w1) · time_maa_w2[f],  decay tanh(x · time_decay_w1) · time_decay_w2
//   RWKV-7: decay   tanh(x · w1) · w2,   in-context rate x · a1 · a2,   value gate x · v1 · v2,
//           output gate σ(x · g1) · g2
// The caller adds any bias (w0, a0, v0, time_decay) and applies any outer function with ops::map.
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

enum class lora_activation { none, tanh, sigmoid };

template <class W, memory_space Space = host_space>
struct lora_weights {
    const_matrix_view<W, Space> down;  // A: [C_in, D]
    const_matrix_view<W, Space> up;    // B: [D, C_out]
    std::size_t rank() const noexcept { return down.cols; }
};

// out = f(x · A) · B. `hidden` is scratch of shape [T, D] (at least).
template <backend Backend, class W>
void lora(const Backend& be, const_activations<Backend> x, const lora_weights<W, space_of<Backend>>& w,
          lora_activation f, activations<Backend> hidden, activations<Backend> out,
          op_site where = op_site::current()) {
    assert(hidden.rows == x.rows && hidden.cols == w.rank() && w.up.rows == w.rank());
    op_enter(be);
    project(be, x, w.down, hidden);
    switch (f) {
        case lora_activation::none: break;
        case lora_activation::tanh:
            map(be, hidden, fn::tanh{}, const_activations<Backend>(hidden));
            break;
        case lora_activation::sigmoid:
            map(be, hidden, fn::sigmoid{}, const_activations<Backend>(hidden));
            break;
    }
    project(be, const_activations<Backend>(hidden), w.up, out);
    op_exit(be, "lora", where, out);
}

}  // namespace rwkv::ops
