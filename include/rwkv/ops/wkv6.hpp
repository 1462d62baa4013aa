// rwkv/ops/wkv6.hpp — the WKV of RWKV-5.2 "Eagle" and RWKV-6 "Finch": a matrix-valued state per
// head with a per-channel decay and a bonus u for the current token (Eagle/Finch paper,
// arXiv 2404.05892, §4–5; docs/spec/rwkv.md §3.3 and §4.3).
//
// Per head h, with S ∈ ℝ^{N×N} indexed S[key i][value j] (the official v5/v6 orientation):
//   y_t[j]  = Σ_i r_t[i] · (u[i] k_t[i] v_t[j] + S[i][j])        (the OLD state, plus the bonus)
//   S[i][j] ← k_t[i] v_t[j] + w_t[i] S[i][j]
// RWKV-6's decay w_t is data-dependent (a [T, C] matrix); RWKV-5.2's is the same for every token,
// so RWKV-5.2 is this op with w broadcast over the rows. N is a compile-time parameter.
#pragma once

#include <cassert>
#include <span>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class Backend, std::size_t N>
struct wkv6_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no RWKV-5/6 WKV kernel for this head size");
};

// r, k, v, w, y: [T, H·N]; u: [H·N]; state: [H, N, N], updated in place.
template <std::size_t N, backend Backend>
void wkv6(const Backend& be, state_matrices<Backend> state, const_activations<Backend> r, const_activations<Backend> w,
          const_activations<Backend> k, const_activations<Backend> v, channel_vector<Backend> u,
          activations<Backend> y, op_site where = op_site::current()) {
    assert(state.d1 == N && state.d2 == N && state.d0 * N == r.cols && u.size() == r.cols);
    op_enter(be);
    wkv6_kernel<Backend, N>::run(be, state, r, w, k, v, u, y);
    op_exit(be, "wkv6", where, y);
}

// Every agent of a batch: each agent's rows scan its own [H, N, N] state. A backend may run the
// (agent, head) pairs together (`run_agents`); otherwise the agents go one after another.
template <std::size_t N, backend Backend>
void wkv6(const Backend& be, const state_slots& state, const_activations<Backend> r, const_activations<Backend> w,
          const_activations<Backend> k, const_activations<Backend> v, channel_vector<Backend> u,
          activations<Backend> y, op_site where = op_site::current()) {
    assert(r.cols % N == 0 && u.size() == r.cols);
    op_enter(be);
    if constexpr (requires { wkv6_kernel<Backend, N>::run_agents(be, state, r, w, k, v, u, y); }) {
        wkv6_kernel<Backend, N>::run_agents(be, state, r, w, k, v, u, y);
    } else {
        for_each_agent(state, r.rows, [&](std::size_t g, std::size_t first, std::size_t n) {
            auto rows = [first, n](auto m) { return m.rows_slice(first, n); };
            wkv6_kernel<Backend, N>::run(be, state_matrices<Backend>{state.agent(g), r.cols / N, N, N}, rows(r),
                                         rows(w), rows(k), rows(v), u, rows(y));
        });
    }
    op_exit(be, "wkv6", where, y);
}

}  // namespace rwkv::ops
