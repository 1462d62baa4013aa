// rwkv/ops/gold_attention.hpp — GOLD attention: causal multi-head softmax attention of the newest
// queries over the whole context (GoldFinch, arXiv 2407.12077; docs/spec/goldfinch.md §3.2).
//
// Queries are the LAST Tq positions of a context of Nk positions, so query i sits at absolute
// position p = Nk − Tq + i and sees keys 0 … p: the bottom-right aligned causal mask (the official
// code's upper-left mask is only right when the cache was empty, docs/spec/goldfinch.md §3.2). Per head h:
//   o_h = Σ_{j ≤ p} softmax_j(q_h · k_{j,h} / √N) v_{j,h}
// No positional encoding. N (the head size) is a compile-time parameter.
#pragma once

#include <cassert>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class Backend, std::size_t N>
struct gold_attention_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no GOLD attention kernel for this head size");
};

// q, y: [Tq, H·N]; k, v: [Nk, H·N] with Nk ≥ Tq.
template <std::size_t N, backend Backend>
void gold_attention(const Backend& be, const_activations<Backend> q, const_activations<Backend> k,
                    const_activations<Backend> v, activations<Backend> y, op_site where = op_site::current()) {
    assert(q.cols == k.cols && k.cols == v.cols && k.rows == v.rows && k.rows >= q.rows && q.cols % N == 0);
    assert(y.rows == q.rows && y.cols == q.cols);
    op_enter(be);
    gold_attention_kernel<Backend, N>::run(be, q, k, v, y);
    op_exit(be, "gold_attention", where, y);
}

}  // namespace rwkv::ops
