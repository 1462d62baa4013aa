// rwkv/ops/token_shift.hpp — token shift: every token sees the previous token's LayerNorm output.
//
// For T tokens a[0..T) and the stored sx (the last token of the previous call, docs/spec/rwkv.md §1.3):
//   prev[0] = sx,  prev[t] = a[t−1];  afterwards sx ← a[T−1].
// Two lerp conventions mix a with prev (docs/spec/rwkv.md §6 item 5 — they round differently, use each as is):
//   mix_current  (RWKV-4, 5):  a⊙μ + prev⊙(1−μ)          μ weights the current token
//   mix_previous (RWKV-6, 7):  a + (prev − a)⊙μ           μ weights the previous token
// RWKV-6's data-dependent lerp (ddlerp) is mix_previous with μ + LoRA(·) as the coefficient matrix.
#pragma once

#include <cassert>
#include <span>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class Backend>
struct token_shift_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no token-shift kernel");
};

// prev ← shifted a (see above) and sx ← a[T−1]. prev must not alias a.
template <backend Backend>
void token_shift(const Backend& be, const_activations<Backend> a, state_vector<Backend> sx, activations<Backend> prev,
                 op_site where = op_site::current()) {
    assert(a.rows == prev.rows && a.cols == prev.cols && sx.size() == a.cols && a.rows > 0);
    op_enter(be);
    token_shift_kernel<Backend>::run(be, a, sx, prev);
    op_exit(be, "token_shift", where, prev);
}

// The same for every agent of a batch: each agent's rows shift against its own stored sx. A backend
// may shift all agents in one go (`run_agents`); otherwise they go one after another.
template <backend Backend>
void token_shift(const Backend& be, const_activations<Backend> a, const state_slots& sx, activations<Backend> prev,
                 op_site where = op_site::current()) {
    assert(a.rows == prev.rows && a.cols == prev.cols);
    op_enter(be);
    if constexpr (requires { token_shift_kernel<Backend>::run_agents(be, a, sx, prev); }) {
        token_shift_kernel<Backend>::run_agents(be, a, sx, prev);
    } else {
        for_each_agent(sx, a.rows, [&](std::size_t g, std::size_t first, std::size_t n) {
            token_shift_kernel<Backend>::run(be, a.rows_slice(first, n), state_vector<Backend>(sx.agent(g), a.cols),
                                             prev.rows_slice(first, n));
        });
    }
    op_exit(be, "token_shift", where, prev);
}

template <backend Backend, class Coeff>
void mix_previous(const Backend& be, const_activations<Backend> a, const_activations<Backend> prev, const Coeff& mu,
                  activations<Backend> out, op_site where = op_site::current()) {
    op_enter(be);
    map(be, out, fn::lerp_previous{}, a, prev, mu);
    op_exit(be, "mix_previous", where, out);
}

template <backend Backend, class Coeff>
void mix_current(const Backend& be, const_activations<Backend> a, const_activations<Backend> prev, const Coeff& mu,
                 activations<Backend> out, op_site where = op_site::current()) {
    op_enter(be);
    map(be, out, fn::lerp_current{}, a, prev, mu);
    op_exit(be, "mix_current", where, out);
}

}  // namespace rwkv::ops
