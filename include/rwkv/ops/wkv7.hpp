// rwkv/ops/wkv7.hpp — RWKV-7's WKV: a matrix-valued state per head, data-dependent decay and the
// generalized delta rule (RWKV-7 paper, arXiv 2503.14456, eq. for S_t; docs/spec/rwkv.md §5.3).
//
// Per head h, with S ∈ ℝ^{N×N} indexed S[value i][key j] (the official orientation):
//   S_t = S_{t−1} · (diag(w_t) + a_t b_tᵀ) + v_t k_tᵀ          (a = −κ̂, b = κ̂ ⊙ α)
//   y_t = S_t r_t                                              (the NEW state is read)
// written out per element:
//   sa[i]   = Σ_j S[i][j] a[j]
//   S[i][j] = S[i][j] w[j] + sa[i] b[j] + v[i] k[j]
//   y[i]    = Σ_j S[i][j] r[j]
// The head size N is a compile-time parameter (64 in every release); H is the row width / N.
#pragma once

#include <cassert>
#include <cstddef>
#include <span>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class Backend, std::size_t N>
struct wkv7_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no RWKV-7 WKV kernel for this head size");
};

// Runs the recurrence over the T rows of the inputs (each [T, H·N]), updating `state` ([H, N, N])
// in place and writing y [T, H·N].
template <std::size_t N, backend Backend>
void wkv7(const Backend& be, state_matrices<Backend> state, const_activations<Backend> r, const_activations<Backend> w,
          const_activations<Backend> k, const_activations<Backend> v, const_activations<Backend> a,
          const_activations<Backend> b, activations<Backend> y, op_site where = op_site::current()) {
    assert(state.d1 == N && state.d2 == N && state.d0 * N == r.cols);
    op_enter(be);
    wkv7_kernel<Backend, N>::run(be, state, r, w, k, v, a, b, y);
    op_exit(be, "wkv7", where, y);
}

// Every agent of a batch: each agent's rows scan its own [H, N, N] state. A backend may run the
// (agent, head) pairs together (`run_agents`); otherwise the agents go one after another.
template <std::size_t N, backend Backend>
void wkv7(const Backend& be, const state_slots& state, const_activations<Backend> r, const_activations<Backend> w,
          const_activations<Backend> k, const_activations<Backend> v, const_activations<Backend> a,
          const_activations<Backend> b, activations<Backend> y, op_site where = op_site::current()) {
    assert(r.cols % N == 0);
    op_enter(be);
    if constexpr (requires { wkv7_kernel<Backend, N>::run_agents(be, state, r, w, k, v, a, b, y); }) {
        wkv7_kernel<Backend, N>::run_agents(be, state, r, w, k, v, a, b, y);
    } else {
        for_each_agent(state, r.rows, [&](std::size_t g, std::size_t first, std::size_t n) {
            auto rows = [first, n](auto m) { return m.rows_slice(first, n); };
            wkv7_kernel<Backend, N>::run(be, state_matrices<Backend>{state.agent(g), r.cols / N, N, N}, rows(r),
                                         rows(w), rows(k), rows(v), rows(a), rows(b), rows(y));
        });
    }
    op_exit(be, "wkv7", where, y);
}

// RWKV-7's bonus, added after GroupNorm (docs/spec/rwkv.md §5.3): per head, y_h += (Σ_j r_j k_j ρ_j) · v_h,
// with ρ = att.r_k flattened to [H·N]. Generic over the head size at run time (it is not a scan).
template <class Backend>
struct wkv7_bonus_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no RWKV-7 bonus kernel");
};

template <backend Backend>
void wkv7_bonus(const Backend& be, std::size_t head_size, const_activations<Backend> r, const_activations<Backend> k,
                const_activations<Backend> v, channel_vector<Backend> r_k, activations<Backend> y,
                op_site where = op_site::current()) {
    assert(r_k.size() == r.cols && r.cols % head_size == 0);
    op_enter(be);
    wkv7_bonus_kernel<Backend>::run(be, head_size, r, k, v, r_k, y);
    op_exit(be, "wkv7_bonus", where, y);
}

}  // namespace rwkv::ops
