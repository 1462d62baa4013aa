// rwkv/models/channel_mix_block.hpp — the second half of every RWKV block, shared by RWKV-4…7:
//
//   b = LN(x; ln2);  prev = token shift of b;  x_k, x_r = lerp(b, prev, μ_k / μ_r)
//   x ← x + [σ(W_r x_r) ⊙] W_v relu²(W_k x_k)            (the receptance gate: RWKV-4, 5, 6)
//
// Versions differ only in the lerp convention (docs/spec/rwkv.md §6 item 5) and whether the gate exists.
#pragma once

#include <span>
#include <string>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/models/loader.hpp"
#include "rwkv/ops/channel_mix.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/token_shift.hpp"

namespace rwkv {

enum class lerp_convention {
    current,   // a ⊙ μ + prev ⊙ (1 − μ)    RWKV-4, RWKV-5
    previous,  // a + (prev − a) ⊙ μ        RWKV-6, RWKV-7
};

template <class W, memory_space Space = host_space>
struct channel_mix_block_weights {
    vector_view<const float, Space> ln2_weight, ln2_bias;  // [C]
    vector_view<const float, Space> mu_k, mu_r;            // [C]; mu_r empty without receptance
    ops::channel_mix_weights<W, Space> ffn;                // key [F, C], value [C, F], receptance [C, C] or empty
};

// Reads blocks.{i}.ln2.*, ffn.{mu_k_name}, ffn.{mu_r_name}, ffn.key/value(/receptance).weight.
template <precision::policy P, memory_space S>
channel_mix_block_weights<typename P::weight_type, S> load_channel_mix_block(const weight_loader<P, S>& ld,
                                                                             const std::string& prefix, std::size_t C,
                                                                             std::size_t F, const char* mu_k_name,
                                                                             const char* mu_r_name) {
    channel_mix_block_weights<typename P::weight_type, S> b;
    b.ln2_weight = ld.vector(prefix + "ln2.weight", C);
    b.ln2_bias = ld.vector(prefix + "ln2.bias", C);
    b.mu_k = ld.vector(prefix + "ffn." + mu_k_name, C);
    b.ffn.key = ld.matrix(prefix + "ffn.key.weight", F, C);
    b.ffn.value = ld.matrix(prefix + "ffn.value.weight", C, F);
    if (mu_r_name) {
        b.mu_r = ld.vector(prefix + "ffn." + mu_r_name, C);
        b.ffn.receptance = ld.matrix(prefix + "ffn.receptance.weight", C, C);
    }
    return b;
}

// Scratch the block needs, [T, C] each except hidden [T, F]; `gate` and `xr` unused without
// receptance. None may alias x.
template <memory_space Space = host_space>
struct channel_mix_scratch {
    matrix_view<float, Space> normed, prev, xk, xr, hidden, gate, out;
};

template <backend Backend, class W>
void channel_mix_block(const Backend& be, const channel_mix_block_weights<W, space_of<Backend>>& p,
                       lerp_convention lerp, ops::activations<Backend> x, const state_slots& x_prev,
                       const channel_mix_scratch<space_of<Backend>>& s) {
    using cm = ops::const_activations<Backend>;
    // x_◇ = lerp(b, prev, μ_◇) for ◇ ∈ {k, r}: b ⊙ μ + prev ⊙ (1 − μ) (current), b + (prev − b) ⊙ μ (previous).
    auto mix = [&](ops::channel_vector<Backend> mu, ops::activations<Backend> out) {
        if (lerp == lerp_convention::current)
            ops::mix_current(be, cm(s.normed), cm(s.prev), mu, out);
        else
            ops::mix_previous(be, cm(s.normed), cm(s.prev), mu, out);
    };
    // b = LN(x; ln2); token shift: prev[t] = b[t−1] (the stored x_prev for t = 0).
    ops::layer_norm(be, cm(x), p.ln2_weight, p.ln2_bias, s.normed);
    ops::token_shift(be, cm(s.normed), x_prev, s.prev);
    mix(p.mu_k, s.xk);
    if (p.ffn.has_receptance()) mix(p.mu_r, s.xr);
    // x ← x + [σ(W_r x_r) ⊙] W_v relu²(W_k x_k)   (ops/channel_mix.hpp; no receptance gate in RWKV-7).
    ops::channel_mix(be, p.ffn, cm(s.xk), cm(s.xr), s.hidden, s.gate, s.out);
    ops::map(be, x, ops::fn::add{}, cm(x), cm(s.out));
}

}  // namespace rwkv
