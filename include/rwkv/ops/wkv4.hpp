// rwkv/ops/wkv4.hpp — RWKV-4's WKV: a per-channel, exponentially decaying weighted average of past
// values, kept numerically stable by a running maximum (RWKV-4 paper, arXiv 2305.13048, eq. 14–16;
// docs/spec/rwkv.md §2.3).
//
// The state (aa, bb, pp) stands for 𝒜 = aa·e^pp and ℬ = bb·e^pp, with
//   𝒜_t = e^w 𝒜_{t−1} + e^{k_t} v_t,   ℬ_t = e^w ℬ_{t−1} + e^{k_t}        (w = −exp(time_decay) < 0)
// and the output reads the OLD sums plus a bonus e^u for the current token:
//   wkv_t = (𝒜_{t−1} + e^{u+k_t} v_t) / (ℬ_{t−1} + e^{u+k_t})
// Every exponential is taken after subtracting the running maximum (the official max-shifted
// update, so the state matches the goldens' aa/bb/pp). pp starts at −1e30, not −∞ (§6 item 10).
#pragma once

#include <cassert>
#include <span>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

inline constexpr float wkv4_initial_pp = -1e30f;

template <class Backend>
struct wkv4_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no RWKV-4 WKV kernel");
};

// k, v, out: [T, C]; w (log-decay, < 0) and u (log-bonus): [C]; aa, bb, pp: [C], updated in place.
template <backend Backend>
void wkv4(const Backend& be, state_vector<Backend> aa, state_vector<Backend> bb, state_vector<Backend> pp,
          channel_vector<Backend> w, channel_vector<Backend> u, const_activations<Backend> k,
          const_activations<Backend> v, activations<Backend> out, op_site where = op_site::current()) {
    assert(aa.size() == k.cols && bb.size() == k.cols && pp.size() == k.cols && w.size() == k.cols);
    assert(u.size() == k.cols && v.rows == k.rows && out.rows == k.rows);
    op_enter(be);
    wkv4_kernel<Backend>::run(be, aa, bb, pp, w, u, k, v, out);
    op_exit(be, "wkv4", where, out);
}

// Every agent of a batch: each agent's rows against its own (aa, bb, pp). A backend may run all agents
// in one go (`run_agents`); otherwise they go one after another.
template <backend Backend>
void wkv4(const Backend& be, const state_slots& aa, const state_slots& bb, const state_slots& pp,
          channel_vector<Backend> w, channel_vector<Backend> u, const_activations<Backend> k,
          const_activations<Backend> v, activations<Backend> out, op_site where = op_site::current()) {
    const std::size_t C = k.cols;
    op_enter(be);
    if constexpr (requires { wkv4_kernel<Backend>::run_agents(be, aa, bb, pp, w, u, k, v, out); }) {
        wkv4_kernel<Backend>::run_agents(be, aa, bb, pp, w, u, k, v, out);
    } else {
        for_each_agent(aa, k.rows, [&](std::size_t g, std::size_t first, std::size_t n) {
            wkv4(be, state_vector<Backend>(aa.agent(g), C), state_vector<Backend>(bb.agent(g), C),
                 state_vector<Backend>(pp.agent(g), C), w, u, k.rows_slice(first, n), v.rows_slice(first, n),
                 out.rows_slice(first, n));
        });
    }
    op_exit(be, "wkv4", where, out);
}

}  // namespace rwkv::ops
