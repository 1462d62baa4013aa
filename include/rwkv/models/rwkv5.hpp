// rwkv/models/rwkv5.hpp — RWKV-5.2 "Eagle" (the released RWKV-5 World v2 models), and the
// pre-release RWKV-5 layout (rwkv.cpp's "5.1", ChatRWKV's "v5"/"v5.1").
//
// Paper: "Eagle and Finch: RWKV with Matrix-Valued States and Dynamic Recurrence", arXiv 2404.05892.
// Spec:  docs/spec/rwkv.md §3. What changed from RWKV-4: the per-channel scalar WKV became a matrix
// state per head (ops::wkv6 with a time-invariant decay), a SiLU output gate, and a GroupNorm
// (ln_x, eps 64e-5) on the heads' outputs. Token shift and channel mix are RWKV-4's.
// Pre-release (docs/architectures/rwkv5.md): one decay and one bonus per head, the bonus
// u = exp(time_first), and the gate only when the checkpoint has att.gate.weight.
#pragma once

#include <charconv>
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
#include "rwkv/ops/head_size.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/token_shift.hpp"
#include "rwkv/ops/wkv6.hpp"

namespace rwkv::rwkv5 {

struct config {
    std::size_t n_vocab = 0, n_embd = 0, n_layer = 0;
    std::size_t n_head = 0;     // H: att.time_decay rows
    std::size_t head_size = 0;  // N: att.time_decay cols (64); C / H for the per-head layout
    bool per_head_decay = false;  // pre-release: time_decay and time_first [H]
    bool gated = true;            // SiLU output gate (att.gate.weight); absent in the first pre-release
    float group_norm_eps = ops::group_norm_eps;  // ln_x; a file may ask for rwkv.cpp's 1e-5 (io/ggmf_rwkv.hpp)
    std::size_t dim_ffn = 0;    // F: int(3.5·C)//32·32 in releases
};

template <class W, memory_space Space = host_space>
struct block_weights {
    vector_view<const float, Space> ln1_weight, ln1_bias;                            // [C]
    vector_view<const float, Space> time_mix_k, time_mix_v, time_mix_r, time_mix_g;  // [C] μ weights the current token
    vector_view<const float, Space> w;                                 // [H·N] exp(−exp(time_decay)), f32 (§3.2)
    vector_view<const float, Space> u;                                 // [H·N] time_faaaa raw, or exp(time_first)
    const_matrix_view<W, Space> receptance, key, value, gate, output;  // [C, C]
    vector_view<const float, Space> ln_x_weight, ln_x_bias;            // [C]
    channel_mix_block_weights<W, Space> cmix;                          // ln2, ffn.time_mix_k/r, ffn.* (RWKV-4's)
};

// The official state list (§1.5): per layer [att x_prev (C), kv S[H][key][value], ffn x_prev (C)].
inline std::shared_ptr<const state_layout> make_state_layout(architecture arch, std::size_t n_layer, std::size_t C,
                                                             std::size_t H, std::size_t N) {
    auto layout = std::make_shared<state_layout>();
    layout->arch = arch;
    layout->n_layer = n_layer;
    layout->n_embd = C;
    layout->n_head = H;
    layout->head_size = N;
    for (std::size_t i = 0; i < n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i);
        layout->add(p + ".att.x_prev", {C});
        layout->add(p + ".att.kv", {H, N, N});
        layout->add(p + ".ffn.x_prev", {C});
    }
    return layout;
}

template <memory_space Space = host_space>
struct basic_workspace : workspace_base<Space> {
    matrix_view<float, Space> x, a, prev, xk, xv, xr, xg, r, k, v, g, w, y, tmp;  // [T, C]
    matrix_view<float, Space> ffn_hidden;                                         // [T, F]

    basic_workspace() = default;
    basic_workspace(const config& c, std::size_t max_tokens)
        : workspace_base<Space>(max_tokens, std::max(c.n_vocab, c.n_embd), max_tokens * (14 * c.n_embd + c.dim_ffn),
                                "rwkv5::workspace") {
        auto& scratch = this->arena;
        for (auto* m : {&x, &a, &prev, &xk, &xv, &xr, &xg, &r, &k, &v, &g, &w, &y, &tmp})
            *m = scratch.take(max_tokens, c.n_embd);
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

    explicit model(io::tensor_file file, Backend be = {}) : base(std::move(file), std::move(be), architecture::rwkv5) {
        load_weights();
        this->layout_ = make_state_layout(architecture::rwkv5, cfg_.n_layer, cfg_.n_embd, cfg_.n_head, cfg_.head_size);
    }

    const std::vector<block_weights<weight_type, space>>& blocks() const noexcept { return blocks_; }

private:
    using base::backend_;
    using base::cfg_;
    using base::store_;
    std::vector<block_weights<weight_type, space>> blocks_;

    // Time mix of block i (§3.3).
    void time_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        const Backend& be = backend_;
        const auto& p = blocks_[i];
        auto rows = [T](matrix_view<float, space> m) { return m.rows_slice(0, T); };
        const auto x = rows(ws.x), a = rows(ws.a), prev = rows(ws.prev), xk = rows(ws.xk), xv = rows(ws.xv),
                   xr = rows(ws.xr), xg = rows(ws.xg), r = rows(ws.r), k = rows(ws.k), v = rows(ws.v),
                   g = rows(ws.g), w = rows(ws.w), y = rows(ws.y), tmp = rows(ws.tmp);
        using cm = const_matrix_view<float, space>;

        // a = LN(x; ln1); x_◇ = a ⊙ μ_◇ + prev ⊙ (1 − μ_◇).
        ops::layer_norm(be, x, p.ln1_weight, p.ln1_bias, a);
        ops::token_shift(be, a, agents.entry(3 * i + 0), prev);
        ops::mix_current(be, a, prev, p.time_mix_k, xk);
        ops::mix_current(be, a, prev, p.time_mix_v, xv);
        ops::mix_current(be, a, prev, p.time_mix_r, xr);

        // r, k, v = W x;  g = SiLU(W_g x_g).
        ops::linear(be, p.receptance, cm(xr), r);
        ops::linear(be, p.key, cm(xk), k);
        ops::linear(be, p.value, cm(xv), v);
        if (cfg_.gated) {
            ops::mix_current(be, a, prev, p.time_mix_g, xg);
            ops::linear(be, p.gate, cm(xg), g);
            ops::map(be, g, ops::fn::silu{}, cm(g));
        }

        // y = Σ_i r_i (u_i k_i v + S_i);  S ← k vᵀ + diag(w) S   (w the same for every token).
        ops::map(be, w, ops::fn::copy{}, p.w);
        const state_slots S = agents.entry(3 * i + 1);
        ops::with_head_size(cfg_.head_size, [&](auto n) {
            ops::wkv6<decltype(n)::value>(be, S, cm(r), cm(w), cm(k), cm(v), p.u, y);
        });

        // x ← x + W_o (GN_H(y; ln_x) ⊙ g)   (without ⊙ g when ungated).
        ops::group_norm(be, cm(y), p.ln_x_weight, p.ln_x_bias, cfg_.n_head, cfg_.group_norm_eps, y);
        if (cfg_.gated) ops::map(be, y, ops::fn::multiply{}, cm(y), cm(g));
        ops::linear(be, p.output, cm(y), tmp);
        ops::map(be, x, ops::fn::add{}, cm(x), cm(tmp));
    }

    // Channel mix: RWKV-4's (§3.3).
    void channel_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        auto rows = [T](matrix_view<float, space> m) { return m.rows_slice(0, T); };
        channel_mix_block(backend_, blocks_[i].cmix, lerp_convention::current, rows(ws.x), agents.entry(3 * i + 2),
                          {rows(ws.a), rows(ws.prev), rows(ws.xk), rows(ws.xr), rows(ws.ffn_hidden),
                           rows(ws.r), rows(ws.tmp)});
    }

    // §3.2: w = exp(−exp(time_decay)) in f32, u = time_faaaa as is; pre-release: the same per
    // head, u = exp(time_first), broadcast over the head's N channels.
    void load_weights() {
        weight_loader<Precision, space> ld(store_);
        const auto& file = ld.file();
        cfg_.per_head_decay = ld.has("blocks.0.att.time_first");
        cfg_.gated = ld.has("blocks.0.att.gate.weight");
        if (!cfg_.per_head_decay && !ld.has("blocks.0.att.time_faaaa"))
            throw model_error(file.display_name() + ": missing tensor 'blocks.0.att.time_faaaa' (RWKV-5.2) or "
                                                    "'blocks.0.att.time_first' (pre-release RWKV-5)");
        this->load_io(ld);
        read_group_norm_eps(file);
        const std::size_t C = cfg_.n_embd;
        if (cfg_.per_head_decay) {
            const auto decay = base::positive_shape(ld, "blocks.0.att.time_decay", 1, "[H] (pre-release RWKV-5)");
            if (C % static_cast<std::size_t>(decay[0]) != 0)
                throw model_error(file.display_name() + ": tensor 'blocks.0.att.time_decay' has shape " +
                                  shape_string(decay) + "; its H heads must divide C = " + std::to_string(C));
            cfg_.n_head = static_cast<std::size_t>(decay[0]);
            cfg_.head_size = C / cfg_.n_head;
        } else {
            const auto decay = base::positive_shape(ld, "blocks.0.att.time_decay", 2, "[H, N] (RWKV-5.2)");
            if (decay[1] == 1 || static_cast<std::size_t>(decay[0] * decay[1]) != C)
                throw unsupported_error(file.display_name() + ": tensor 'blocks.0.att.time_decay' has shape " +
                                        shape_string(decay) + "; RWKV-5.2 needs [H, N] with N > 1 and H·N = C = " +
                                        std::to_string(C));
            cfg_.n_head = static_cast<std::size_t>(decay[0]);
            cfg_.head_size = static_cast<std::size_t>(decay[1]);
        }
        ops::with_head_size(cfg_.head_size, [](auto) {});
        cfg_.dim_ffn = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.ffn.key.weight", 2, "[F, C]")[0]);
        const std::size_t F = cfg_.dim_ffn;
        const std::vector<std::int64_t> hn{static_cast<std::int64_t>(cfg_.n_head),
                                           static_cast<std::int64_t>(cfg_.head_size)};

        blocks_.resize(cfg_.n_layer);
        for (std::size_t i = 0; i < cfg_.n_layer; ++i) {
            auto& b = blocks_[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            b.ln1_weight = ld.vector(p + "ln1.weight", C);
            b.ln1_bias = ld.vector(p + "ln1.bias", C);
            b.time_mix_k = ld.vector(p + "att.time_mix_k", C);
            b.time_mix_v = ld.vector(p + "att.time_mix_v", C);
            b.time_mix_r = ld.vector(p + "att.time_mix_r", C);
            if (cfg_.gated) {
                b.time_mix_g = ld.vector(p + "att.time_mix_g", C);
                b.gate = ld.matrix(p + "att.gate.weight", C, C);
            }
            if (cfg_.per_head_decay) {
                b.w = per_head(ld, p + "att.time_decay", [](float d) { return std::exp(-std::exp(d)); });
                b.u = per_head(ld, p + "att.time_first", [](float f) { return std::exp(f); });
            } else {
                b.w = ld.derive(ld.host_tensor(p + "att.time_decay", hn), [](float d) { return std::exp(-std::exp(d)); });
                b.u = ld.tensor(p + "att.time_faaaa", hn);
            }
            b.receptance = ld.matrix(p + "att.receptance.weight", C, C);
            b.key = ld.matrix(p + "att.key.weight", C, C);
            b.value = ld.matrix(p + "att.value.weight", C, C);
            b.output = ld.matrix(p + "att.output.weight", C, C);
            b.ln_x_weight = ld.vector(p + "att.ln_x.weight", C);
            b.ln_x_bias = ld.vector(p + "att.ln_x.bias", C);
            b.cmix = load_channel_mix_block(ld, p, C, F, "time_mix_k", "time_mix_r");
        }
    }

    // The eps the file asks for under io::rwkv5_group_norm_eps_key, a positive finite float.
    void read_group_norm_eps(const io::tensor_file& file) {
        const auto it = file.metadata().find(io::rwkv5_group_norm_eps_key);
        if (it == file.metadata().end()) return;
        const std::string& s = it->second;
        float eps = 0.0f;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), eps);
        if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || !(eps > 0.0f) || !std::isfinite(eps))
            throw model_error(file.display_name() + ": metadata '" + io::rwkv5_group_norm_eps_key + "' is '" +
                              io::detail::printable(s, 40) + "', expected a positive number");
        cfg_.group_norm_eps = eps;
    }

    // A per-head [H] tensor through `fn`, each value repeated over its head's N channels ([H·N]).
    template <class Fn>
    auto per_head(const weight_loader<Precision, space>& ld, const std::string& name, Fn fn) const {
        const auto src = ld.host_tensor(name, {static_cast<std::int64_t>(cfg_.n_head)});
        aligned_buffer<float> out(cfg_.n_head * cfg_.head_size);
        for (std::size_t c = 0; c < out.size(); ++c) out[c] = fn(src[c / cfg_.head_size]);
        return ld.keep(std::move(out));
    }
};

}  // namespace rwkv::rwkv5
