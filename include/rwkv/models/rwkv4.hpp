// rwkv/models/rwkv4.hpp — RWKV-4 (the "Pile", "Raven" and "World" v4 models).
//
// Paper: "RWKV: Reinventing RNNs for the Transformer Era", arXiv 2305.13048.
// Spec:  docs/spec/rwkv.md §2 (tensors, load-time transforms, per-token math, state, sequence mode).
// The per-channel WKV with its (aa, bb, pp) state is ops::wkv4; the rest is the shared skeleton.
#pragma once

#include <cmath>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/architecture.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/models/channel_mix_block.hpp"
#include "rwkv/models/loader.hpp"
#include "rwkv/models/recurrent_model.hpp"
#include "rwkv/ops/channel_mix.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/token_shift.hpp"
#include "rwkv/ops/wkv4.hpp"

namespace rwkv::rwkv4 {

struct config {
    std::size_t n_vocab = 0;  // V
    std::size_t n_embd = 0;   // C (= dim_att in every released model)
    std::size_t n_layer = 0;  // L
    std::size_t dim_ffn = 0;  // F: ffn.key.weight rows (4C in releases)
};

template <class W, memory_space Space = host_space>
struct block_weights {
    vector_view<const float, Space> ln1_weight, ln1_bias;                // [C]
    vector_view<const float, Space> time_mix_k, time_mix_v, time_mix_r;  // [C] μ weights the CURRENT token
    vector_view<const float, Space> w;                                   // [C] −exp(time_decay), f32 (§2.2)
    vector_view<const float, Space> u;                                   // [C] time_first, the log-bonus
    const_matrix_view<W, Space> key, value, receptance, output;          // [C, C]
    channel_mix_block_weights<W, Space> cmix;                            // ln2, ffn.time_mix_k/r, ffn.* (§2.3)
};

// The official state list (§1.5): per layer [att x_prev, aa, bb, pp, ffn x_prev], each [C].
inline std::shared_ptr<const state_layout> make_state_layout(const config& c) {
    auto layout = std::make_shared<state_layout>();
    layout->arch = architecture::rwkv4;
    layout->n_layer = c.n_layer;
    layout->n_embd = c.n_embd;
    for (std::size_t i = 0; i < c.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i);
        layout->add(p + ".att.x_prev", {c.n_embd});
        layout->add(p + ".att.aa", {c.n_embd});
        layout->add(p + ".att.bb", {c.n_embd});
        layout->add(p + ".att.pp", {c.n_embd});
        layout->add(p + ".ffn.x_prev", {c.n_embd});
    }
    return layout;
}

template <memory_space Space = host_space>
struct basic_workspace : workspace_base<Space> {
    matrix_view<float, Space> x, a, prev, xk, xv, xr, r, k, v, y, tmp;  // [T, C]
    matrix_view<float, Space> ffn_hidden;                               // [T, F]

    basic_workspace() = default;
    basic_workspace(const config& c, std::size_t max_tokens)
        : workspace_base<Space>(max_tokens, std::max(c.n_vocab, c.n_embd), max_tokens * (11 * c.n_embd + c.dim_ffn),
                                "rwkv4::workspace") {
        auto& scratch = this->arena;
        for (auto* m : {&x, &a, &prev, &xk, &xv, &xr, &r, &k, &v, &y, &tmp}) *m = scratch.take(max_tokens, c.n_embd);
        ffn_hidden = scratch.take(max_tokens, c.dim_ffn);
    }
};

using workspace = basic_workspace<host_space>;

template <backend Backend = backends::reference, precision::policy Precision = precision::f32>
class model : public recurrent_model<model<Backend, Precision>, Backend, Precision, config,
                                     basic_workspace<space_of<Backend>>> {
    using base =
        recurrent_model<model<Backend, Precision>, Backend, Precision, config, basic_workspace<space_of<Backend>>>;
    friend base;

public:
    using weight_type = typename Precision::weight_type;
    using typename base::space;
    using typename base::workspace_type;

    static model load(const std::filesystem::path& path, Backend be = {}) {
        return model(io::tensor_file::open(path), std::move(be));
    }

    explicit model(io::tensor_file file, Backend be = {}) : base(std::move(file), std::move(be), architecture::rwkv4) {
        load_weights();
        this->layout_ = make_state_layout(cfg_);
    }

    const std::vector<block_weights<weight_type, space>>& blocks() const noexcept { return blocks_; }

private:
    using base::backend_;
    using base::cfg_;
    using base::store_;
    std::vector<block_weights<weight_type, space>> blocks_;

    // pp starts at −1e30 (§2.3); everything else at 0.
    void initialize_state(state& st) const {
        for (std::size_t i = 0; i < cfg_.n_layer; ++i)
            for (float& p : st.entry(5 * i + 3)) p = ops::wkv4_initial_pp;
    }

    // Time mix of block i (§2.3).
    void time_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        const Backend& be = backend_;
        const auto& p = blocks_[i];
        auto rows = [T](matrix_view<float, space> m) { return m.rows_slice(0, T); };
        const auto x = rows(ws.x), a = rows(ws.a), prev = rows(ws.prev), xk = rows(ws.xk), xv = rows(ws.xv),
                   xr = rows(ws.xr), r = rows(ws.r), k = rows(ws.k), v = rows(ws.v), y = rows(ws.y),
                   tmp = rows(ws.tmp);
        using cm = const_matrix_view<float, space>;

        // a = LN(x; ln1); x_◇ = a ⊙ μ_◇ + prev ⊙ (1 − μ_◇)  (μ weights the current token).
        ops::layer_norm(be, x, p.ln1_weight, p.ln1_bias, a);
        ops::token_shift(be, a, agents.entry(5 * i + 0), prev);
        ops::mix_current(be, a, prev, p.time_mix_k, xk);
        ops::mix_current(be, a, prev, p.time_mix_v, xv);
        ops::mix_current(be, a, prev, p.time_mix_r, xr);

        // r = σ(W_r x_r), k = W_k x_k, v = W_v x_v.
        ops::linear(be, p.receptance, cm(xr), r);
        ops::map(be, r, ops::fn::sigmoid{}, cm(r));
        ops::linear(be, p.key, cm(xk), k);
        ops::linear(be, p.value, cm(xv), v);

        // wkv over the tokens, then x ← x + W_o (r ⊙ wkv).
        ops::wkv4(be, agents.entry(5 * i + 1), agents.entry(5 * i + 2), agents.entry(5 * i + 3), p.w, p.u, cm(k), cm(v), y);
        ops::map(be, y, ops::fn::multiply{}, cm(r), cm(y));
        ops::linear(be, p.output, cm(y), tmp);
        ops::map(be, x, ops::fn::add{}, cm(x), cm(tmp));
    }

    // Channel mix of block i (§2.3): x ← x + σ(W_r x_r) ⊙ W_v relu²(W_k x_k).
    void channel_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        auto rows = [T](matrix_view<float, space> m) { return m.rows_slice(0, T); };
        channel_mix_block(backend_, blocks_[i].cmix, lerp_convention::current, rows(ws.x), agents.entry(5 * i + 4),
                          {rows(ws.a), rows(ws.prev), rows(ws.xk), rows(ws.xr), rows(ws.ffn_hidden),
                           rows(ws.r), rows(ws.tmp)});
    }

    // §2.2: fold ln0, squeeze, w = −exp(time_decay) in f32, u = time_first as is; no rescaling.
    void load_weights() {
        weight_loader<Precision, space> ld(store_);
        this->load_io(ld);
        const std::size_t C = cfg_.n_embd;
        const auto att_key = base::positive_shape(ld, "blocks.0.att.key.weight", 2, "[A, C]");
        if (static_cast<std::size_t>(att_key[0]) != C)
            throw unsupported_error(ld.file().display_name() + ": dim_att " + std::to_string(att_key[0]) +
                                    " differs from n_embd " + std::to_string(C) + " (no released model does this)");
        cfg_.dim_ffn = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.ffn.key.weight", 2, "[F, C]")[0]);
        const std::size_t F = cfg_.dim_ffn;

        blocks_.resize(cfg_.n_layer);
        for (std::size_t i = 0; i < cfg_.n_layer; ++i) {
            auto& b = blocks_[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            b.ln1_weight = ld.vector(p + "ln1.weight", C);
            b.ln1_bias = ld.vector(p + "ln1.bias", C);
            b.time_mix_k = ld.vector(p + "att.time_mix_k", C);
            b.time_mix_v = ld.vector(p + "att.time_mix_v", C);
            b.time_mix_r = ld.vector(p + "att.time_mix_r", C);
            b.w = ld.derive(ld.host_vector(p + "att.time_decay", C), [](float d) { return -std::exp(d); });
            b.u = ld.vector(p + "att.time_first", C);
            b.key = ld.matrix(p + "att.key.weight", C, C);
            b.value = ld.matrix(p + "att.value.weight", C, C);
            b.receptance = ld.matrix(p + "att.receptance.weight", C, C);
            b.output = ld.matrix(p + "att.output.weight", C, C);
            b.cmix = load_channel_mix_block(ld, p, C, F, "time_mix_k", "time_mix_r");
        }
    }
};

}  // namespace rwkv::rwkv4
