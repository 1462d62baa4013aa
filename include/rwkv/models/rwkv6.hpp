// rwkv/models/rwkv6.hpp — RWKV-6 "Finch" (architecture 6.0 / x060).
//
// Paper: "Eagle and Finch: RWKV with Matrix-Valued States and Dynamic Recurrence", arXiv 2404.05892.
// Spec:  docs/spec/rwkv.md §4. What changed from RWKV-5.2: the token shift became data-dependent
// (ddlerp: a 5-way LoRA adds a per-token offset to each lerp coefficient, and μ now weights the
// PREVIOUS token), and the decay became data-dependent (a LoRA on top of time_decay, per token).
// The WKV is RWKV-5.2's (ops::wkv6), now fed a [T, C] decay; the channel mix uses the v6 lerp.
#pragma once

#include <array>
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
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/ops/channel_mix.hpp"
#include "rwkv/ops/ddlerp.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/head_size.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/lora.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/token_shift.hpp"
#include "rwkv/ops/wkv6.hpp"

namespace rwkv::rwkv6 {

struct config {
    std::size_t n_vocab = 0, n_embd = 0, n_layer = 0;
    std::size_t n_head = 0;     // H: att.time_faaaa rows
    std::size_t head_size = 0;  // N: att.time_faaaa cols (64)
    std::size_t dim_ffn = 0;    // F
    std::size_t rank_mix = 0;   // D_mix: time_maa_w2.shape[1] (32, or 64 at C = 4096)
    std::size_t rank_decay = 0; // D_dec: time_decay_w1.shape[1] (64, or 128 at C = 4096)
};

// The five ddlerp targets, in the order of time_maa_w1's column blocks and time_maa_w2's slices.
enum ddlerp_target : std::size_t { mix_w = 0, mix_k, mix_v, mix_r, mix_g, ddlerp_targets };

template <class W, memory_space Space = host_space>
struct block_weights {
    vector_view<const float, Space> ln1_weight, ln1_bias;  // [C]
    ops::ddlerp_weights<W, ddlerp_targets, Space> ddlerp;  // time_maa_x, time_maa_{w,k,v,r,g}, time_maa_w1 [C, 5·D],
                                                           // time_maa_w2 [5, D, C] as five [D, C] slices
    vector_view<const float, Space> time_decay;            // [C] base log-log decay
    ops::lora_weights<W, Space> decay_lora;                // [C, D_dec], [D_dec, C]
    vector_view<const float, Space> u;                     // [H·N] time_faaaa, used raw
    const_matrix_view<W, Space> receptance, key, value, gate, output;  // [C, C]
    vector_view<const float, Space> ln_x_weight, ln_x_bias;            // [C]
    std::span<const float> time_state;  // [H, N, N] or empty (state-tuned models); host: initial states start there
    channel_mix_block_weights<W, Space> cmix;  // ln2, ffn.time_maa_k/r, ffn.* (v6 lerp)
};

template <memory_space Space = host_space>
struct basic_workspace : workspace_base<Space> {
    matrix_view<float, Space> x, a, prev, d, z, xw, xk, xv, xr, xg, m, r, k, v, g, w, y, tmp;  // [T, C]
    matrix_view<float, Space> maa_hidden;                                                      // [T, 5·D_mix]
    matrix_view<float, Space> decay_hidden;                                                    // [T, D_dec]
    matrix_view<float, Space> ffn_hidden;                                                      // [T, F]

    basic_workspace() = default;
    basic_workspace(const config& c, std::size_t max_tokens)
        : workspace_base<Space>(max_tokens, std::max(c.n_vocab, c.n_embd),
                                max_tokens * (18 * c.n_embd + 5 * c.rank_mix + c.rank_decay + c.dim_ffn),
                                "rwkv6::workspace") {
        auto& scratch = this->arena;
        for (auto* mat : {&x, &a, &prev, &d, &z, &xw, &xk, &xv, &xr, &xg, &m, &r, &k, &v, &g, &w, &y, &tmp})
            *mat = scratch.take(max_tokens, c.n_embd);
        maa_hidden = scratch.take(max_tokens, 5 * c.rank_mix);
        decay_hidden = scratch.take(max_tokens, c.rank_decay);
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

    explicit model(io::tensor_file file, Backend be = {}) : base(std::move(file), std::move(be), architecture::rwkv6) {
        load_weights();
        this->layout_ =
            rwkv5::make_state_layout(architecture::rwkv6, cfg_.n_layer, cfg_.n_embd, cfg_.n_head, cfg_.head_size);
    }

    const std::vector<block_weights<weight_type, space>>& blocks() const noexcept { return blocks_; }

private:
    using base::backend_;
    using base::cfg_;
    using base::store_;
    std::vector<block_weights<weight_type, space>> blocks_;

    // Zero, or a state-tuned model's att.time_state with its last two axes swapped (§1.5).
    void initialize_state(state& st) const {
        const std::size_t N = cfg_.head_size;
        for (std::size_t i = 0; i < cfg_.n_layer; ++i) {
            const auto& ts = blocks_[i].time_state;
            if (ts.empty()) continue;
            auto S = st.entry(3 * i + 1);
            for (std::size_t h = 0; h < cfg_.n_head; ++h)
                for (std::size_t a = 0; a < N; ++a)
                    for (std::size_t b = 0; b < N; ++b) S[(h * N + a) * N + b] = ts[(h * N + b) * N + a];
        }
    }

    // Time mix of block i (§4.3).
    void time_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        const Backend& be = backend_;
        const auto& p = blocks_[i];
        auto rows = [T](matrix_view<float, space> mat) { return mat.rows_slice(0, T); };
        const auto x = rows(ws.x), a = rows(ws.a), prev = rows(ws.prev), r = rows(ws.r), k = rows(ws.k),
                   v = rows(ws.v), g = rows(ws.g), w = rows(ws.w), y = rows(ws.y), tmp = rows(ws.tmp);
        const std::array<matrix_view<float, space>, ddlerp_targets> mixed{rows(ws.xw), rows(ws.xk), rows(ws.xv),
                                                                          rows(ws.xr), rows(ws.xg)};
        using cm = const_matrix_view<float, space>;

        // a = LN(x; ln1); ddlerp: x_f = a + (prev − a) ⊙ (μ_f + LoRA_f)  for f = w, k, v, r, g.
        ops::layer_norm(be, x, p.ln1_weight, p.ln1_bias, a);
        ops::token_shift(be, a, agents.entry(3 * i + 0), prev);
        ops::ddlerp(be, p.ddlerp, cm(a), cm(prev), rows(ws.d), rows(ws.z), rows(ws.maa_hidden), rows(ws.m), mixed);

        // r, k, v = W x;  g = SiLU(W_g x_g).
        ops::linear(be, p.receptance, cm(mixed[mix_r]), r);
        ops::linear(be, p.key, cm(mixed[mix_k]), k);
        ops::linear(be, p.value, cm(mixed[mix_v]), v);
        ops::linear(be, p.gate, cm(mixed[mix_g]), g);
        ops::map(be, g, ops::fn::silu{}, cm(g));

        // Data-dependent decay: w = exp(−exp(time_decay + tanh(x_w · D1) · D2)), no clamp.
        ops::lora(be, cm(mixed[mix_w]), p.decay_lora, ops::lora_activation::tanh, rows(ws.decay_hidden), w);
        ops::map(be, w, ops::fn::rwkv6_decay{}, cm(w), p.time_decay);

        // The RWKV-5.2 WKV with this token's decay; then x ← x + W_o (GN_H(y; ln_x) ⊙ g).
        const state_slots S = agents.entry(3 * i + 1);
        ops::with_head_size(cfg_.head_size, [&](auto n) {
            ops::wkv6<decltype(n)::value>(be, S, cm(r), cm(w), cm(k), cm(v), p.u, y);
        });
        ops::group_norm(be, cm(y), p.ln_x_weight, p.ln_x_bias, cfg_.n_head, ops::group_norm_eps, y);
        ops::map(be, y, ops::fn::multiply{}, cm(y), cm(g));
        ops::linear(be, p.output, cm(y), tmp);
        ops::map(be, x, ops::fn::add{}, cm(x), cm(tmp));
    }

    // Channel mix (§4.3): the RWKV-4 block with the v6 lerp b + (prev − b) ⊙ μ.
    void channel_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        auto rows = [T](matrix_view<float, space> m) { return m.rows_slice(0, T); };
        channel_mix_block(backend_, blocks_[i].cmix, lerp_convention::previous, rows(ws.x), agents.entry(3 * i + 2),
                          {rows(ws.a), rows(ws.prev), rows(ws.xk), rows(ws.xr), rows(ws.ffn_hidden),
                           rows(ws.r), rows(ws.tmp)});
    }

    // §4.2: squeeze; u = time_faaaa; LoRA factors applied as x·M, never transposed; ranks from shapes.
    void load_weights() {
        weight_loader<Precision, space> ld(store_);
        this->load_io(ld);
        const auto& file = ld.file();
        const std::size_t C = cfg_.n_embd;
        const auto faaaa = base::positive_shape(ld, "blocks.0.att.time_faaaa", 2, "[H, N]");
        if (static_cast<std::size_t>(faaaa[0] * faaaa[1]) != C)
            throw model_error(file.display_name() + ": tensor 'blocks.0.att.time_faaaa' has shape " +
                              shape_string(faaaa) + ", expected [H, N] with H·N = C = " + std::to_string(C));
        cfg_.n_head = static_cast<std::size_t>(faaaa[0]);
        cfg_.head_size = static_cast<std::size_t>(faaaa[1]);
        ops::with_head_size(cfg_.head_size, [](auto) {});
        cfg_.dim_ffn = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.ffn.key.weight", 2, "[F, C]")[0]);
        cfg_.rank_mix =
            static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.att.time_maa_w2", 3, "[5, D_mix, C]")[1]);
        cfg_.rank_decay =
            static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.att.time_decay_w1", 2, "[C, D_dec]")[1]);
        const std::size_t F = cfg_.dim_ffn, H = cfg_.n_head, N = cfg_.head_size, D = cfg_.rank_mix;
        const auto i64 = [](std::size_t n) { return static_cast<std::int64_t>(n); };

        blocks_.resize(cfg_.n_layer);
        for (std::size_t i = 0; i < cfg_.n_layer; ++i) {
            auto& b = blocks_[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            b.ln1_weight = ld.vector(p + "ln1.weight", C);
            b.ln1_bias = ld.vector(p + "ln1.bias", C);
            b.ddlerp = load_ddlerp<Precision, ddlerp_targets>(ld, p + "att.", {"w", "k", "v", "r", "g"}, C, D);
            b.time_decay = ld.vector(p + "att.time_decay", C);
            b.decay_lora.down = ld.matrix(p + "att.time_decay_w1", C, cfg_.rank_decay);
            b.decay_lora.up = ld.matrix(p + "att.time_decay_w2", cfg_.rank_decay, C);
            b.u = ld.tensor(p + "att.time_faaaa", {i64(H), i64(N)});
            b.receptance = ld.matrix(p + "att.receptance.weight", C, C);
            b.key = ld.matrix(p + "att.key.weight", C, C);
            b.value = ld.matrix(p + "att.value.weight", C, C);
            b.gate = ld.matrix(p + "att.gate.weight", C, C);
            b.output = ld.matrix(p + "att.output.weight", C, C);
            b.ln_x_weight = ld.vector(p + "att.ln_x.weight", C);
            b.ln_x_bias = ld.vector(p + "att.ln_x.bias", C);
            if (ld.has(p + "att.time_state"))
                b.time_state = ld.host_tensor(p + "att.time_state", {i64(H), i64(N), i64(N)});
            b.cmix = load_channel_mix_block(ld, p, C, F, "time_maa_k", "time_maa_r");
        }
    }
};

}  // namespace rwkv::rwkv6
