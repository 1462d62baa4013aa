// rwkv/models/rwkv7.hpp — RWKV-7 "Goose" (architecture x070).
//
// Paper: "RWKV-7 Goose with Expressive Dynamic State Evolution", arXiv 2503.14456.
// Spec:  docs/spec/rwkv.md §5 (tensors, load-time transforms, per-token math, state, sequence mode).
// The block below reads top to bottom like §5.3; docs/architectures/rwkv7.md maps each line to the
// paper. Every op is a template over the backend; this file holds no kernels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/architecture.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/buffer.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/models/channel_mix_block.hpp"
#include "rwkv/models/loader.hpp"
#include "rwkv/models/recurrent_model.hpp"
#include "rwkv/models/workspace.hpp"
#include "rwkv/ops/channel_mix.hpp"
#include "rwkv/ops/embedding.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/head_size.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/lora.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/token_shift.hpp"
#include "rwkv/ops/wkv7.hpp"

namespace rwkv::rwkv7 {

// Dimensions, all read from tensor shapes (docs/spec/rwkv.md §1.1: never from formulas).
struct config {
    std::size_t n_vocab = 0;    // V: emb.weight rows
    std::size_t n_embd = 0;     // C
    std::size_t n_layer = 0;    // L: 1 + the largest block index
    std::size_t n_head = 0;     // H: att.r_k rows
    std::size_t head_size = 0;  // N: att.r_k cols (64 in every release)
    std::size_t dim_ffn = 0;    // F: ffn.key.weight rows (4C in releases)
    std::size_t max_lora_rank = 0;  // the largest of D_w, D_a, D_v, D_g over all layers
};

// The weights of one block. Per-channel vectors are [C]; matrices are [out, in] for linear layers
// and [in, out] for LoRA factors, as stored in the checkpoint.
template <class W, memory_space Space = host_space>
struct block_weights {
    vector_view<const float, Space> ln1_weight, ln1_bias;  // [C]

    // Time mix (§5.3).
    vector_view<const float, Space> x_r, x_w, x_k, x_v, x_a, x_g;  // [C] token-shift coefficients
    vector_view<const float, Space> w0;                            // [C] decay bias
    ops::lora_weights<W, Space> w_lora;                            // [C, D_w], [D_w, C]  decay
    vector_view<const float, Space> a0;                            // [C] in-context learning rate bias
    ops::lora_weights<W, Space> a_lora;                            // [C, D_a], [D_a, C]
    vector_view<const float, Space> v0;                            // [C] value-residual gate bias (empty in layer 0)
    ops::lora_weights<W, Space> v_lora;                            // [C, D_v], [D_v, C] (empty in layer 0)
    ops::lora_weights<W, Space> g_lora;                            // [C, D_g], [D_g, C]  output gate
    vector_view<const float, Space> k_k;                           // [C] removal-key scale
    vector_view<const float, Space> k_a;                           // [C] how much α rescales k
    vector_view<const float, Space> r_k;                           // [H·N] bonus weights
    const_matrix_view<W, Space> receptance, key, value, output;    // [C, C]
    vector_view<const float, Space> ln_x_weight, ln_x_bias;        // [C] GroupNorm(H) affine

    channel_mix_block_weights<W, Space> cmix;  // ln2, ffn.x_k, ffn.key/value (§5.3: no receptance)
};

// The official state list (§1.5): per layer [att x_prev (C), kv S[H][value][key], ffn x_prev (C)].
inline std::shared_ptr<const state_layout> make_state_layout(const config& c) {
    auto layout = std::make_shared<state_layout>();
    layout->arch = architecture::rwkv7;
    layout->n_layer = c.n_layer;
    layout->n_embd = c.n_embd;
    layout->n_head = c.n_head;
    layout->head_size = c.head_size;
    for (std::size_t i = 0; i < c.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i);
        layout->add(p + ".att.x_prev", {c.n_embd});
        layout->add(p + ".att.kv", {c.n_head, c.head_size, c.head_size});
        layout->add(p + ".ffn.x_prev", {c.n_embd});
    }
    return layout;
}

// Scratch for `forward`, sized once for up to `capacity` tokens per internal chunk.
template <memory_space Space = host_space>
struct basic_workspace : workspace_base<Space> {
    matrix_view<float, Space> x, a, prev, xr, xw, xk, xv, xa, xg;               // [T, C]
    matrix_view<float, Space> r, w, k, v, kappa, b, alpha, g, v_first, y, tmp;  // [T, C]
    matrix_view<float, Space> lora_hidden;                                      // [T, max D]
    matrix_view<float, Space> ffn_hidden;                                       // [T, F]

    basic_workspace() = default;
    basic_workspace(const config& c, std::size_t max_tokens)
        : workspace_base<Space>(max_tokens, std::max(c.n_vocab, c.n_embd),
                                max_tokens * (20 * c.n_embd + c.max_lora_rank + c.dim_ffn), "rwkv7::workspace") {
        auto& scratch = this->arena;
        const std::size_t C = c.n_embd;
        for (auto* m : {&x, &a, &prev, &xr, &xw, &xk, &xv, &xa, &xg, &r, &w, &k, &v, &kappa, &b, &alpha, &g,
                        &v_first, &y, &tmp})
            *m = scratch.take(max_tokens, C);
        lora_hidden = scratch.take(max_tokens, c.max_lora_rank);
        ffn_hidden = scratch.take(max_tokens, c.dim_ffn);
    }
    basic_workspace(basic_workspace&&) noexcept = default;
    basic_workspace& operator=(basic_workspace&&) noexcept = default;
    basic_workspace(const basic_workspace&) = delete;
    basic_workspace& operator=(const basic_workspace&) = delete;
};

using workspace = basic_workspace<host_space>;

// e^(−1/2), written as the reference does (docs/spec/rwkv.md §6 item 16); ops::fn::rwkv7_decay applies it.
inline constexpr float decay_scale = ops::fn::rwkv7_decay::scale;

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

    // Opens a .pth or .safetensors checkpoint (either RWKV-7 layout: training, with layer-0
    // v0/v1/v2, or released G1, without).
    static model load(const std::filesystem::path& path, Backend be = {}) {
        return model(io::tensor_file::open(path), std::move(be));
    }

    explicit model(io::tensor_file file, Backend be = {}) : base(std::move(file), std::move(be), architecture::rwkv7) {
        load_weights();
        this->layout_ = make_state_layout(cfg_);
    }

    const std::vector<block_weights<weight_type, space>>& blocks() const noexcept { return blocks_; }

private:
    using base::backend_;
    using base::cfg_;
    using base::store_;
    std::vector<block_weights<weight_type, space>> blocks_;

    // Time mix of block i, docs/spec/rwkv.md §5.3 (paper §4: "RWKV-7 time mixing").
    void time_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        const Backend& be = backend_;
        const auto& p = blocks_[i];
        const std::size_t N = cfg_.head_size;
        auto rows = [T](matrix_view<float, space> m) { return m.rows_slice(0, T); };
        const auto x = rows(ws.x), a = rows(ws.a), prev = rows(ws.prev);
        const auto xr = rows(ws.xr), xw = rows(ws.xw), xk = rows(ws.xk), xv = rows(ws.xv), xa = rows(ws.xa),
                   xg = rows(ws.xg);
        const auto r = rows(ws.r), w = rows(ws.w), k = rows(ws.k), v = rows(ws.v), kappa = rows(ws.kappa),
                   b = rows(ws.b), alpha = rows(ws.alpha), g = rows(ws.g), v_first = rows(ws.v_first),
                   y = rows(ws.y), tmp = rows(ws.tmp);
        using cm = const_matrix_view<float, space>;

        // a = LN(x; ln1); token shift: prev[t] = a[t−1] (the stored x_prev for t = 0).
        ops::layer_norm(be, x, p.ln1_weight, p.ln1_bias, a);
        ops::token_shift(be, a, agents.entry(3 * i + 0), prev);

        // x_◇ = a + (prev − a) ⊙ μ_◇ for ◇ ∈ {r, w, k, v, a, g}.
        ops::mix_previous(be, a, prev, p.x_r, xr);
        ops::mix_previous(be, a, prev, p.x_w, xw);
        ops::mix_previous(be, a, prev, p.x_k, xk);
        ops::mix_previous(be, a, prev, p.x_v, xv);
        ops::mix_previous(be, a, prev, p.x_a, xa);
        ops::mix_previous(be, a, prev, p.x_g, xg);

        // r = W_r x_r,  k = W_k x_k,  v = W_v x_v.
        ops::linear(be, p.receptance, cm(xr), r);
        ops::linear(be, p.key, cm(xk), k);
        ops::linear(be, p.value, cm(xv), v);

        // Decay: w = exp(−e^(−1/2) σ(w0 + tanh(x_w W1) W2)).
        ops::lora(be, xw, p.w_lora, ops::lora_activation::tanh, lora_rows(ws, T, p.w_lora), w);
        ops::map(be, w, ops::fn::rwkv7_decay{}, cm(w), p.w0);

        // In-context learning rate: α = σ(a0 + x_a A1 A2).
        ops::lora(be, xa, p.a_lora, ops::lora_activation::none, lora_rows(ws, T, p.a_lora), alpha);
        ops::map(be, alpha, ops::fn::sigmoid_of_sum{}, cm(alpha), p.a0);

        // Output gate: g = σ(x_g G1) G2.
        ops::lora(be, xg, p.g_lora, ops::lora_activation::sigmoid, lora_rows(ws, T, p.g_lora), g);

        // Removal key κ̂ = normalize(k ⊙ k_k) per head, from k BEFORE its α rescale (§6 item 9).
        ops::map(be, kappa, ops::fn::multiply{}, cm(k), p.k_k);
        ops::l2_normalize_groups(be, kappa, N);

        // Replacement key: k ← k ⊙ (1 + (α − 1) ⊙ k_a).
        ops::map(be, k, ops::fn::rwkv7_replacement_key{}, cm(k), cm(alpha), p.k_a);

        // Value residual: layer 0 keeps v as v_first; later layers move v toward it by
        // σ(v0 + x_v V1 V2).
        if (i == 0) {
            ops::map(be, v_first, ops::fn::copy{}, cm(v));
        } else {
            ops::lora(be, xv, p.v_lora, ops::lora_activation::none, lora_rows(ws, T, p.v_lora), tmp);
            ops::map(be, v, ops::fn::value_residual{}, cm(v), cm(v_first), cm(tmp), p.v0);
        }

        // Generalized delta rule: S ← S (diag(w) − κ̂ (κ̂ ⊙ α)ᵀ) + v kᵀ;  y = S r.
        ops::map(be, b, ops::fn::multiply{}, cm(kappa), cm(alpha));
        ops::map(be, kappa, ops::fn::negate{}, cm(kappa));
        const state_slots S = agents.entry(3 * i + 1);
        ops::with_head_size(N, [&](auto n) {
            ops::wkv7<decltype(n)::value>(be, S, cm(r), cm(w), cm(k), cm(v), cm(kappa), cm(b), y);
        });

        // o = GN_H(y; ln_x) + (Σ_j r k ρ)_h v_h;   x ← x + W_o (o ⊙ g).
        ops::group_norm(be, cm(y), p.ln_x_weight, p.ln_x_bias, cfg_.n_head, ops::group_norm_eps, y);
        ops::wkv7_bonus(be, N, cm(r), cm(k), cm(v), p.r_k, y);
        ops::map(be, y, ops::fn::multiply{}, cm(y), cm(g));
        ops::linear(be, p.output, cm(y), tmp);
        ops::map(be, x, ops::fn::add{}, cm(x), cm(tmp));
    }

    // Channel mix of block i (§5.3): x ← x + W_v relu²(W_k (b + (prev − b) ⊙ μ_k)), no receptance.
    void channel_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        auto rows = [T](matrix_view<float, space> m) { return m.rows_slice(0, T); };
        channel_mix_block(backend_, blocks_[i].cmix, lerp_convention::previous, rows(ws.x), agents.entry(3 * i + 2),
                          {rows(ws.a), rows(ws.prev), rows(ws.xk), rows(ws.xr), rows(ws.ffn_hidden),
                           rows(ws.r), rows(ws.tmp)});
    }

    static matrix_view<float, space> lora_rows(workspace_type& ws, std::size_t T,
                                               const ops::lora_weights<weight_type, space>& l) {
        return matrix_view<float, space>(ws.lora_hidden.data, T, l.rank());
    }

    // Load-time transforms of §5.2: names → shape-checked views; LN(emb; ln0) folded in f32.
    void load_weights() {
        weight_loader<Precision, space> ld(store_);
        this->load_io(ld);
        const std::size_t C = cfg_.n_embd;

        const auto rk = base::positive_shape(ld, "blocks.0.att.r_k", 2, "[H, N]");
        if (static_cast<std::size_t>(rk[0] * rk[1]) != C)
            throw model_error(ld.file().display_name() + ": tensor 'blocks.0.att.r_k' has shape " + shape_string(rk) +
                              ", expected [H, N] with H·N = C = " + std::to_string(C));
        cfg_.n_head = static_cast<std::size_t>(rk[0]);
        cfg_.head_size = static_cast<std::size_t>(rk[1]);
        ops::with_head_size(cfg_.head_size, [](auto) {});  // unsupported sizes fail here, at load
        cfg_.dim_ffn = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.ffn.key.weight", 2, "[F, C]")[0]);
        const std::size_t F = cfg_.dim_ffn;

        auto lora = [&](const std::string& down, const std::string& up) {
            ops::lora_weights<weight_type, space> l;
            l.down = ld.matrix_any_cols(down, C);
            l.up = ld.matrix(up, l.down.cols, C);
            cfg_.max_lora_rank = std::max(cfg_.max_lora_rank, l.rank());
            return l;
        };

        blocks_.resize(cfg_.n_layer);
        for (std::size_t i = 0; i < cfg_.n_layer; ++i) {
            auto& b = blocks_[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            b.ln1_weight = ld.vector(p + "ln1.weight", C);
            b.ln1_bias = ld.vector(p + "ln1.bias", C);

            b.x_r = ld.vector(p + "att.x_r", C);
            b.x_w = ld.vector(p + "att.x_w", C);
            b.x_k = ld.vector(p + "att.x_k", C);
            b.x_v = ld.vector(p + "att.x_v", C);
            b.x_a = ld.vector(p + "att.x_a", C);
            b.x_g = ld.vector(p + "att.x_g", C);
            b.w0 = ld.vector(p + "att.w0", C);
            b.w_lora = lora(p + "att.w1", p + "att.w2");
            b.a0 = ld.vector(p + "att.a0", C);
            b.a_lora = lora(p + "att.a1", p + "att.a2");
            if (i > 0) {  // layer 0 never uses v0/v1/v2; G1 checkpoints omit them (§5.2)
                b.v0 = ld.vector(p + "att.v0", C);
                b.v_lora = lora(p + "att.v1", p + "att.v2");
            }
            b.g_lora = lora(p + "att.g1", p + "att.g2");
            b.k_k = ld.vector(p + "att.k_k", C);
            b.k_a = ld.vector(p + "att.k_a", C);
            b.r_k = ld.tensor(p + "att.r_k", {static_cast<std::int64_t>(cfg_.n_head),
                                              static_cast<std::int64_t>(cfg_.head_size)});
            b.receptance = ld.matrix(p + "att.receptance.weight", C, C);
            b.key = ld.matrix(p + "att.key.weight", C, C);
            b.value = ld.matrix(p + "att.value.weight", C, C);
            b.output = ld.matrix(p + "att.output.weight", C, C);
            b.ln_x_weight = ld.vector(p + "att.ln_x.weight", C);
            b.ln_x_bias = ld.vector(p + "att.ln_x.bias", C);

            b.cmix = load_channel_mix_block(ld, p, C, F, "x_k", nullptr);
        }
    }
};

}  // namespace rwkv::rwkv7
