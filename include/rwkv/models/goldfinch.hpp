// rwkv/models/goldfinch.hpp — GoldFinch: Finch-C2 blocks under GOLD attention blocks that read a
// 16×-compressed key cache rebuilt from the token embeddings.
//
// Paper: "GoldFinch: High Performance RWKV/Transformer Hybrid with Linear Pre-Fill and Extreme
// KV-Cache Compression", arXiv 2407.12077. Spec: docs/spec/goldfinch.md (§ numbers below).
//
//   x = LN0(E[tok])                                   e_t, kept as the "original embedding" stream
//   blocks 0 … n_c2−1:   x += FinchC2(LN1 x); x += CMix6(LN2 x)         (recurrent, §2)
//   c_t = W_a x_t  → the state's cache stores c_t and tok_t only (c = C/16 floats + 1 id)   (§3.1)
//   K̃_j = RMS(W_b [e_j ; c_j]) for every cached position j (recomputed: never stored)
//   blocks n_c2 … L−1:   x += GOLD(LN1 x; K̃, RMS(e)); x += CMix6(LN2 x)                 (§3.2)
//   logits = head · LN_out(x)
//
// Finch-C2 reuses RWKV-6's ddlerp, decay LoRA and WKV (ops::wkv6 with u = 0 and k scaled by
// 1 − w); GOLD attention is ops::gold_attention with the bottom-right causal mask.
#pragma once

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/architecture.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/io/read_file.hpp"
#include "rwkv/models/channel_mix_block.hpp"
#include "rwkv/models/loader.hpp"
#include "rwkv/models/recurrent_model.hpp"
#include "rwkv/ops/cache.hpp"
#include "rwkv/ops/ddlerp.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/gold_attention.hpp"
#include "rwkv/ops/head_size.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/lora.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/token_shift.hpp"
#include "rwkv/ops/wkv6.hpp"

namespace rwkv::goldfinch {

// What the tensors cannot tell (§4, "Inferring the config"): from the official {"model": {...}}
// JSON or set by hand. Defaults are the released GoldFinch config.
struct options {
    std::optional<std::size_t> inv_other_layer_ratio;  // r; default: the first block with att.query.weight
    bool use_v2 = true;                                // Finch-C2 adds v2 instead of the bonus u
    bool use_one_minus_w = true;                       // Finch-C2 scales k by 1 − w
    std::size_t head_size = 64;
    std::size_t max_context = 4096;                    // cache capacity reserved by make_state / workspaces
};

// Parses the official config JSON ({"model": {...}}) from text; `where` names its source in errors
// (a file, or a checkpoint's metadata). Non-null rope/brope/alibi are unsupported.
inline options parse_config(std::string_view text, const std::string& where) {
    const std::filesystem::path path(where);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw format_error(path.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
        throw format_error(path.string() + ": expected {\"model\": {...}} (the official GoldFinch config)");
    const auto& m = j["model"];
    options o;
    auto number = [&](const char* key, std::size_t fallback) {
        if (!m.contains(key) || m[key].is_null()) return fallback;
        if (!m[key].is_number_unsigned() || m[key].get<std::size_t>() == 0)
            throw format_error(path.string() + ": model." + key + " must be a positive integer");
        return m[key].get<std::size_t>();
    };
    for (const char* key : {"rope", "brope", "alibi"})
        if (m.contains(key) && !m[key].is_null())
            throw unsupported_error(path.string() + ": model." + key + " is set; only the default GoldFinch (no " +
                                    "positional encoding) is supported");
    for (const char* key : {"tmix", "tmix2"})
        if (m.contains(key) && m[key].is_string()) {
            const auto v = m[key].get<std::string>();
            if ((std::string(key) == "tmix" && v != "x060c2") || (std::string(key) == "tmix2" && v != "gold"))
                throw unsupported_error(path.string() + ": model." + key + " = '" + v +
                                        "'; supported: tmix x060c2, tmix2 gold");
        }
    o.inv_other_layer_ratio = number("inv_other_layer_ratio", 3);
    o.head_size = number("head_size", 64);
    // A 0/1 flag (a bool too); anything else is a format_error, not a json exception or a float cast.
    auto flag = [&](const char* key) {
        if (!m.contains(key) || m[key].is_null()) return true;
        if (m[key].is_boolean()) return m[key].get<bool>();
        if (!m[key].is_number()) throw format_error(path.string() + ": model." + key + " must be 0 or 1");
        return m[key] != 0;
    };
    o.use_v2 = flag("use_v2");
    o.use_one_minus_w = flag("use_one_minus_w");
    return o;
}

// Reads the official config JSON file.
inline options read_config(const std::filesystem::path& path) {
    return parse_config(io::read_file(path, "GoldFinch config"), path.string());
}

struct config {
    std::size_t n_vocab = 0, n_embd = 0, n_layer = 0;
    std::size_t n_head = 0, head_size = 0;  // from blocks.0.att.time_faaaa [H, N]
    std::size_t dim_ffn = 0;
    std::size_t n_c2 = 0;                   // Finch-C2 blocks 0 … n_c2−1; GOLD blocks n_c2 … L−1
    std::size_t compressed = 0;             // c: w_kv_cache_a rows (C/16)
    std::size_t rank_mix = 0, rank_decay = 0, rank_v2 = 0;           // Finch-C2 LoRA ranks
    std::size_t rank_q = 0, rank_kv = 0, rank_key = 0, rank_value = 0;  // GOLD LoRA ranks (kv: per target)
    std::size_t max_context = 0;
    dtype cache_dtype = dtype::f32;  // the precision policy's weight type (docs/contracts.md, "GoldFinch cache")
    bool use_v2 = true, use_one_minus_w = true;
    std::size_t max_rank() const {
        return std::max({5 * rank_mix, rank_decay, rank_v2, rank_q, 2 * rank_kv, rank_key, rank_value});
    }
};

// Finch-C2's ddlerp targets, in the order of its time_maa_w1 blocks (§2.1: r, k, v, w, v2).
enum c2_target : std::size_t { c2_r = 0, c2_k, c2_v, c2_w, c2_v2, c2_targets };

template <class W, memory_space Space = host_space>
struct finch_c2_weights {
    ops::ddlerp_weights<W, c2_targets, Space> ddlerp;  // time_maa_x, time_maa_{r,k,v,w,v2}, w1 [C, 5·D], w2 [5, D, C]
    vector_view<const float, Space> time_decay;        // [C]
    ops::lora_weights<W, Space> decay_lora;            // [C, D_dec], [D_dec, C]
    ops::lora_weights<W, Space> value2_lora;           // P [C, D_v2], Q [D_v2, C]
    vector_view<const float, Space> u;                 // [H·N]: time_faaaa if !use_v2, else zeros
    const_matrix_view<W, Space> receptance, key, value, output;  // [C, C]
    vector_view<const float, Space> ln_x_weight, ln_x_bias;      // [C] LayerNorm over all channels
};

template <class W, memory_space Space = host_space>
struct gold_weights {
    ops::ddlerp_weights<W, 1, Space> query_lerp;  // time_maa_x, time_maa_q, time_maa_q_w1 [C, D_q], _q_w2 [D_q, C]
    vector_view<const float, Space> maa_v_cache, maa_k, maa_v;  // [C]
    const_matrix_view<W, Space> kv_w1;                          // [C, 2·D_kv]
    const_matrix_view<W, Space> kv_w2[2];                       // [D_kv, C]: k, v
    ops::lora_weights<W, Space> key_lora, value_lora;           // [C, R], [R, C]
    const_matrix_view<W, Space> query, output;                  // [C, C]
    vector_view<const float, Space> ln_q_weight, ln_q_bias, ln_k_weight, ln_k_bias, ln_v_weight, ln_v_bias;
    vector_view<const float, Space> ln_x_weight, ln_x_bias;
};

template <class W, memory_space Space = host_space>
struct block_weights {
    bool gold = false;
    vector_view<const float, Space> ln1_weight, ln1_bias;  // [C]
    finch_c2_weights<W, Space> c2;                         // blocks < n_c2
    gold_weights<W, Space> att;                            // blocks ≥ n_c2
    channel_mix_block_weights<W, Space> cmix;              // RWKV-6 channel mix, every block
};

// State list: per block att.x_prev [C], (Finch-C2 only) att.kv S[H][key][value], ffn.x_prev [C];
// plus the cache: c floats and one token id per past token.
inline std::shared_ptr<const state_layout> make_state_layout(const config& c) {
    auto layout = std::make_shared<state_layout>();
    layout->arch = architecture::goldfinch;
    layout->n_layer = c.n_layer;
    layout->n_embd = c.n_embd;
    layout->n_head = c.n_head;
    layout->head_size = c.head_size;
    layout->cache_width = c.compressed;
    layout->cache_dtype = c.cache_dtype;
    for (std::size_t i = 0; i < c.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i);
        layout->add(p + ".att.x_prev", {c.n_embd});
        if (i < c.n_c2) layout->add(p + ".att.kv", {c.n_head, c.head_size, c.head_size});
        layout->add(p + ".ffn.x_prev", {c.n_embd});
    }
    return layout;
}

// Bytes the cache needs per past token: c values of the cache dtype + one int32 token id (§5.1).
inline std::size_t cache_bytes_per_token(const config& c) { return dtype_size(c.cache_dtype) * c.compressed + 4; }

template <memory_space Space = host_space>
struct basic_workspace : workspace_base<Space> {
    vector_view<const std::int32_t, Space> tokens;  // the current chunk (set by begin_chunk)
    std::size_t gold_first = 0, gold_rows = 0;      // the rows GOLD blocks run on (all, or the last 2·n_g + 1)
    // [T, C]
    matrix_view<float, Space> x, a, prev, d, z, xk, xr, m, r, k, v, v2, w, y, tmp;
    matrix_view<float, Space> mixed[c2_targets];
    matrix_view<float, Space> hidden;      // [T, max rank]
    matrix_view<float, Space> ffn_hidden;  // [T, F]
    matrix_view<float, Space> compressed;  // [T, c]
    // [max_context, C]: the context streams of GOLD
    matrix_view<float, Space> ctx_key, ctx_emb, ctx_prev, ctx_u, ctx_mk, ctx_mv, ctx_k, ctx_v, ctx_tmp;
    matrix_view<float, Space> ctx_hidden;  // [max_context, max rank]
    matrix_view<float, Space> ctx_c;       // [max_context, c]
    matrix_view<float, Space> zero_row;    // [1, C]

    basic_workspace() = default;
    basic_workspace(const config& c, std::size_t max_tokens)
        : workspace_base<Space>(max_tokens, std::max(c.n_vocab, c.n_embd), arena_floats(c, max_tokens),
                                "goldfinch::workspace") {
        auto& scratch = this->arena;
        const std::size_t C = c.n_embd, N = c.max_context, R = c.max_rank();
        for (auto* mat : {&x, &a, &prev, &d, &z, &xk, &xr, &m, &r, &k, &v, &v2, &w, &y, &tmp})
            *mat = scratch.take(max_tokens, C);
        for (auto& mat : mixed) mat = scratch.take(max_tokens, C);
        hidden = scratch.take(max_tokens, R);
        ffn_hidden = scratch.take(max_tokens, c.dim_ffn);
        compressed = scratch.take(max_tokens, c.compressed);
        for (auto* mat : {&ctx_key, &ctx_emb, &ctx_prev, &ctx_u, &ctx_mk, &ctx_mv, &ctx_k, &ctx_v, &ctx_tmp})
            *mat = scratch.take(N, C);
        ctx_hidden = scratch.take(N, R);
        ctx_c = scratch.take(N, c.compressed);
        zero_row = scratch.take(1, C);
    }

private:
    static std::size_t arena_floats(const config& c, std::size_t max_tokens) {
        const std::size_t C = c.n_embd, N = c.max_context, R = c.max_rank();
        return max_tokens * (20 * C + R + c.dim_ffn + c.compressed) + N * (9 * C + R + c.compressed) + C;
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
    using typename base::state_type;
    using typename base::workspace_type;

    static model load(const std::filesystem::path& path, const options& opt = {}, Backend be = {}) {
        return model(io::tensor_file::open(path), opt, std::move(be));
    }

    explicit model(io::tensor_file file, const options& opt = {}, Backend be = {})
        : base(std::move(file), std::move(be), architecture::goldfinch) {
        load_weights(opt);
        this->layout_ = make_state_layout(cfg_);
    }

    const std::vector<block_weights<weight_type, space>>& blocks() const noexcept { return blocks_; }

private:
    using base::backend_;
    using base::cfg_;
    using base::io_;
    using base::store_;
    std::vector<block_weights<weight_type, space>> blocks_;
    std::vector<std::size_t> att_entry_, kv_entry_, ffn_entry_;  // state-list index per block
    const_matrix_view<weight_type, space> cache_a_;              // W_a [c, C]
    const_matrix_view<weight_type, space> cache_b_emb_, cache_b_c_;  // W_b split: [C, C] and [C, c] (strided)
    vector_view<const float, space> zeros_;                          // [C]

    void initialize_state(state& st) const { st.reserve_cache(cfg_.max_context); }

    // When only the last row is read, GOLD blocks run on the last W = 2·n_g + 1 rows only, from zero
    // GOLD shift states: each GOLD block looks one row back twice (query and channel-mix shifts), so
    // the last row and the final shift states are exactly those of a full run (docs/spec/goldfinch.md §5.2).
    void begin_chunk(ops::token_ids<Backend> tokens, const agent_batch<space>& agents, workspace_type& ws,
                     bool all_rows) const {
        state_type& st = agents[0];
        if (st.cache_size() + tokens.size() > std::min(st.cache_capacity(), cfg_.max_context))
            throw state_error("goldfinch: context of " + std::to_string(st.cache_size() + tokens.size()) +
                              " tokens exceeds the reserved " + std::to_string(std::min(st.cache_capacity(), cfg_.max_context)) +
                              " (options::max_context / state::reserve_cache)");
        ws.tokens = tokens;
        const std::size_t T = tokens.size(), window = 2 * (cfg_.n_layer - cfg_.n_c2) + 1;
        ws.gold_first = (!all_rows && T > window) ? T - window : 0;
        ws.gold_rows = T - ws.gold_first;
        if (ws.gold_first > 0)
            for (std::size_t i = cfg_.n_c2; i < cfg_.n_layer; ++i) {
                st.zero_entry(att_entry_[i]);
                st.zero_entry(ffn_entry_[i]);
            }
    }

    // The rows block i runs on: every row for Finch-C2 blocks, the GOLD window for GOLD blocks.
    std::pair<std::size_t, std::size_t> block_rows(std::size_t i, const workspace_type& ws, std::size_t T) const {
        return i < cfg_.n_c2 ? std::pair<std::size_t, std::size_t>{0, T} : std::pair{ws.gold_first, ws.gold_rows};
    }

    // GoldFinch steps one agent per call: its GOLD blocks attend over the agent's own growing cache
    // (recurrent_model::forward_batch runs a batch agent by agent).
    static constexpr bool steps_agents_together = false;

    void time_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        assert(agents.size() == 1);
        state_type& st = agents[0];
        if (i < cfg_.n_c2) {
            finch_c2_time_mix(i, st, ws, T);
            return;
        }
        if (i == cfg_.n_c2) build_context(st, ws, T);
        gold_time_mix(i, st, ws, T);
    }

    void channel_mix(std::size_t i, const agent_batch<space>& agents, workspace_type& ws, std::size_t T) const {
        state_type& st = agents[0];
        const auto [first, n] = block_rows(i, ws, T);
        auto rows = [first = first, n = n](matrix_view<float, space> mat) { return mat.rows_slice(first, n); };
        channel_mix_block(
            backend_, blocks_[i].cmix, lerp_convention::previous, rows(ws.x),
            state_slots::one(st.entry_handle(ffn_entry_[i])),
            {rows(ws.a), rows(ws.prev), rows(ws.xk), rows(ws.xr), rows(ws.ffn_hidden), rows(ws.r), rows(ws.tmp)});
    }

    // Finch-C2 time mix (§2.1).
    void finch_c2_time_mix(std::size_t i, state_type& st, workspace_type& ws, std::size_t T) const {
        const Backend& be = backend_;
        const auto& blk = blocks_[i];
        const auto& p = blk.c2;
        auto rows = [T](matrix_view<float, space> mat) { return mat.rows_slice(0, T); };
        const auto x = rows(ws.x), a = rows(ws.a), prev = rows(ws.prev), r = rows(ws.r), k = rows(ws.k),
                   v = rows(ws.v), v2 = rows(ws.v2), w = rows(ws.w), y = rows(ws.y), tmp = rows(ws.tmp);
        using cm = const_matrix_view<float, space>;

        // ddlerp (RWKV-6's, targets r, k, v, w, v2).
        ops::layer_norm(be, x, blk.ln1_weight, blk.ln1_bias, a);
        ops::token_shift(be, a, state_slots::one(st.entry_handle(att_entry_[i])), prev);
        ops::ddlerp(be, p.ddlerp, cm(a), cm(prev), rows(ws.d), rows(ws.z),
                    matrix_view<float, space>(ws.hidden.data, T, c2_targets * cfg_.rank_mix), rows(ws.m),
                    {rows(ws.mixed[c2_r]), rows(ws.mixed[c2_k]), rows(ws.mixed[c2_v]), rows(ws.mixed[c2_w]),
                     rows(ws.mixed[c2_v2])});
        const auto x_r = cm(rows(ws.mixed[c2_r])), x_k = cm(rows(ws.mixed[c2_k])), x_v = cm(rows(ws.mixed[c2_v])),
                   x_w = cm(rows(ws.mixed[c2_w])), x_v2 = cm(rows(ws.mixed[c2_v2]));

        // r, k̂, v; v2 = W_v x_v2 + tanh(x_v2 P) Q  (W_v shared with v); w = exp(−exp(w0 + LoRA)).
        ops::linear(be, p.receptance, x_r, r);
        ops::linear(be, p.key, x_k, k);
        ops::linear(be, p.value, x_v, v);
        ops::lora(be, x_w, p.decay_lora, ops::lora_activation::tanh,
                  matrix_view<float, space>(ws.hidden.data, T, cfg_.rank_decay), w);
        ops::map(be, w, ops::fn::rwkv6_decay{}, cm(w), p.time_decay);
        if (cfg_.use_one_minus_w) ops::map(be, k, ops::fn::scale_by_one_minus{}, cm(k), cm(w));

        // WKV of RWKV-6 (u = 0 when v2 replaces the bonus); y += v2; LN over all channels; no gate.
        const auto S = state_slots::one(st.entry_handle(kv_entry_[i]));
        ops::with_head_size(cfg_.head_size, [&](auto n) {
            ops::wkv6<decltype(n)::value>(be, S, cm(r), cm(w), cm(k), cm(v), p.u, y);
        });
        if (cfg_.use_v2) {
            ops::linear(be, p.value, x_v2, v2);
            ops::lora(be, x_v2, p.value2_lora, ops::lora_activation::tanh,
                      matrix_view<float, space>(ws.hidden.data, T, cfg_.rank_v2), tmp);
            ops::map(be, y, ops::fn::add3{}, cm(y), cm(v2), cm(tmp));
        }
        ops::layer_norm(be, cm(y), p.ln_x_weight, p.ln_x_bias, y);
        ops::linear(be, p.output, cm(y), tmp);
        ops::map(be, x, ops::fn::add{}, cm(x), cm(tmp));
    }

    // After the last Finch-C2 block: append (c_t, tok_t) to the cache, then rebuild the shared
    // streams for every cached position j: K̃_j = RMS(W_b[e_j; c_j]) and ô_j = RMS(e_j) (§3.1).
    void build_context(state_type& st, workspace_type& ws, std::size_t T) const {
        const Backend& be = backend_;
        using cm = const_matrix_view<float, space>;
        const auto compressed = ws.compressed.rows_slice(0, T);
        ops::linear(be, cache_a_, cm(ws.x.rows_slice(0, T)), compressed);
        ops::cache_append(be, st, cm(compressed), ws.tokens);

        const std::size_t N = st.cache_size();
        const auto emb = ws.ctx_emb.rows_slice(0, N), key = ws.ctx_key.rows_slice(0, N), tmp = ws.ctx_tmp.rows_slice(0, N);
        const auto c_rows = ws.ctx_c.rows_slice(0, N);
        ops::cache_read(be, st, c_rows);
        ops::embedding(be, io_.embedding, st.cache_ids(), emb);  // e_j = LN0(E[tok_j])
        ops::linear(be, cache_b_emb_, cm(emb), key);
        ops::linear(be, cache_b_c_, cm(c_rows), tmp);
        ops::map(be, key, ops::fn::add{}, cm(key), cm(tmp));
        ops::rms_norm(be, cm(key), key);
        ops::rms_norm(be, cm(emb), emb);  // ô_j
    }

    // GOLD time mix (§3.2): keys and values for every position, queries for this chunk.
    void gold_time_mix(std::size_t i, state_type& st, workspace_type& ws, std::size_t T) const {
        const Backend& be = backend_;
        const auto& blk = blocks_[i];
        const auto& p = blk.att;
        const std::size_t N = st.cache_size(), Dkv = cfg_.rank_kv;
        using cm = const_matrix_view<float, space>;
        auto ctx = [N](matrix_view<float, space> mat) { return mat.rows_slice(0, N); };
        const auto key = ctx(ws.ctx_key), emb = ctx(ws.ctx_emb), prev = ctx(ws.ctx_prev), u = ctx(ws.ctx_u),
                   mk = ctx(ws.ctx_mk), mv = ctx(ws.ctx_mv), k = ctx(ws.ctx_k), v = ctx(ws.ctx_v), tmp = ctx(ws.ctx_tmp);
        const auto zero = vector_view<float, space>(ws.zero_row.data, cfg_.n_embd);

        // ô_{j−1} (zero before position 0); u_j = ô_j + (ô_{j−1} − ô_j) ⊙ μ_vc; z = tanh(u G1).
        ops::map(be, ws.zero_row, ops::fn::zero{});
        ops::token_shift(be, cm(emb), zero, prev);
        ops::mix_previous(be, cm(emb), cm(prev), p.maa_v_cache, u);
        const auto z = matrix_view<float, space>(ws.ctx_hidden.data, N, 2 * Dkv);
        ops::project(be, cm(u), p.kv_w1, z);
        ops::map(be, z, ops::fn::tanh{}, cm(z));
        ops::project(be, cm(z.data, N, Dkv, z.stride), p.kv_w2[0], mk);
        ops::project(be, cm(z.data + Dkv, N, Dkv, z.stride), p.kv_w2[1], mv);
        // v⁰ = ô + (ô_{j−1} − ô) ⊙ (μ_v + mv)  (prev still holds ô_{j−1}).
        ops::map(be, v, ops::fn::lerp_previous_lora{}, cm(emb), cm(prev), p.maa_v, cm(mv));
        // k⁰ = K̃ + (K̃_{j−1} − K̃) ⊙ (μ_k + mk).
        ops::map(be, ws.zero_row, ops::fn::zero{});
        ops::token_shift(be, cm(key), zero, prev);
        ops::map(be, k, ops::fn::lerp_previous_lora{}, cm(key), cm(prev), p.maa_k, cm(mk));
        // k¹ = k⁰ + tanh(k⁰ Ka) Kb; v¹ likewise; then LN_k, LN_v.
        ops::lora(be, cm(k), p.key_lora, ops::lora_activation::tanh,
                  matrix_view<float, space>(ws.ctx_hidden.data, N, cfg_.rank_key), tmp);
        ops::map(be, k, ops::fn::add{}, cm(k), cm(tmp));
        ops::lora(be, cm(v), p.value_lora, ops::lora_activation::tanh,
                  matrix_view<float, space>(ws.ctx_hidden.data, N, cfg_.rank_value), tmp);
        ops::map(be, v, ops::fn::add{}, cm(v), cm(tmp));
        ops::layer_norm(be, cm(k), p.ln_k_weight, p.ln_k_bias, k);
        ops::layer_norm(be, cm(v), p.ln_v_weight, p.ln_v_bias, v);

        // Queries for this chunk (its GOLD window): q = LN_q(W_q (a + δ ⊙ (μ_q + tanh((a + δ ⊙ μ_x) Q1) Q2))).
        const auto [first, Tq] = block_rows(i, ws, T);
        auto rows = [first = first, Tq = Tq](matrix_view<float, space> mat) { return mat.rows_slice(first, Tq); };
        const auto x = rows(ws.x), a = rows(ws.a), aprev = rows(ws.prev), q = rows(ws.r), xq = rows(ws.xk),
                   y = rows(ws.y), out = rows(ws.tmp);
        ops::layer_norm(be, x, blk.ln1_weight, blk.ln1_bias, a);
        ops::token_shift(be, a, state_slots::one(st.entry_handle(att_entry_[i])), aprev);
        ops::ddlerp(be, p.query_lerp, cm(a), cm(aprev), rows(ws.d), rows(ws.z),
                    matrix_view<float, space>(ws.hidden.data, Tq, cfg_.rank_q), rows(ws.m), {xq});
        ops::linear(be, p.query, cm(xq), q);
        ops::layer_norm(be, cm(q), p.ln_q_weight, p.ln_q_bias, q);

        // Causal attention over positions 0 … p (bottom-right aligned), LN_x, W_o, residual.
        ops::with_head_size(cfg_.head_size, [&](auto n) {
            ops::gold_attention<decltype(n)::value>(be, cm(q), cm(k), cm(v), y);
        });
        ops::layer_norm(be, cm(y), p.ln_x_weight, p.ln_x_bias, y);
        ops::linear(be, p.output, cm(y), out);
        ops::map(be, x, ops::fn::add{}, cm(x), cm(out));
    }

    void load_weights(const options& opt) {
        weight_loader<Precision, space> ld(store_);
        this->load_io(ld);
        const auto& file = ld.file();
        const std::size_t C = cfg_.n_embd, L = cfg_.n_layer;
        const auto i64 = [](std::size_t n) { return static_cast<std::int64_t>(n); };

        // Which blocks are GOLD: they have att.query.weight; the config's ratio must agree.
        std::size_t first_gold = L;
        for (std::size_t i = 0; i < L; ++i)
            if (ld.has("blocks." + std::to_string(i) + ".att.query.weight")) {
                first_gold = i;
                break;
            }
        for (std::size_t i = first_gold; i < L; ++i)
            if (!ld.has("blocks." + std::to_string(i) + ".att.query.weight"))
                throw model_error(file.display_name() + ": block " + std::to_string(i) +
                                  " has no att.query.weight, but GOLD blocks must be the top ones (from block " +
                                  std::to_string(first_gold) + ")");
        if (first_gold == 0 || first_gold == L)
            throw model_error(file.display_name() + ": GoldFinch needs Finch-C2 blocks below GOLD blocks; found " +
                              std::to_string(first_gold) + " Finch-C2 and " + std::to_string(L - first_gold) + " GOLD");
        if (opt.inv_other_layer_ratio) {
            const std::size_t r = *opt.inv_other_layer_ratio;
            const std::size_t expected = L * (r - 1) / r;
            if (expected != first_gold)
                throw model_error(file.display_name() + ": config inv_other_layer_ratio " + std::to_string(r) +
                                  " gives " + std::to_string(expected) + " Finch-C2 blocks for n_layer " +
                                  std::to_string(L) + ", but the tensors have " + std::to_string(first_gold));
        }
        cfg_.n_c2 = first_gold;
        cfg_.use_v2 = opt.use_v2;
        cfg_.use_one_minus_w = opt.use_one_minus_w;
        cfg_.max_context = opt.max_context;
        // The key cache takes the policy's 16/32-bit type; block-quantized policies keep it in f16.
        if constexpr (quant_format<weight_type>) cfg_.cache_dtype = dtype::f16;
        else cfg_.cache_dtype = dtype_of<weight_type>::value;
        if (ld.has("blocks.0.att.gate.weight"))
            throw unsupported_error(file.display_name() + ": plain Finch blocks under GOLD (goldfinch_upgrade) are not " +
                                    "supported; only Finch-C2");

        const auto faaaa = base::positive_shape(ld, "blocks.0.att.time_faaaa", 2, "[H, N]");
        if (static_cast<std::size_t>(faaaa[0] * faaaa[1]) != C)
            throw model_error(file.display_name() + ": tensor 'blocks.0.att.time_faaaa' has shape " +
                              shape_string(faaaa) + ", expected [H, N] with H·N = C = " + std::to_string(C));
        cfg_.n_head = static_cast<std::size_t>(faaaa[0]);
        cfg_.head_size = static_cast<std::size_t>(faaaa[1]);
        if (cfg_.head_size != opt.head_size)
            throw model_error(file.display_name() + ": config head_size " + std::to_string(opt.head_size) +
                              " but time_faaaa gives " + std::to_string(cfg_.head_size));
        ops::with_head_size(cfg_.head_size, [](auto) {});
        cfg_.dim_ffn = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.ffn.key.weight", 2, "[F, C]")[0]);
        cfg_.compressed = static_cast<std::size_t>(base::positive_shape(ld, "w_kv_cache_a.weight", 2, "[c, C]")[0]);
        cfg_.rank_mix = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.att.time_maa_w2", 3, "[5, D, C]")[1]);
        cfg_.rank_decay = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.att.time_decay_w1", 2, "[C, D]")[1]);
        cfg_.rank_v2 = static_cast<std::size_t>(base::positive_shape(ld, "blocks.0.att.time_value2_w1", 2, "[C, D]")[1]);
        const std::string g = "blocks." + std::to_string(first_gold) + ".att.";
        cfg_.rank_q = static_cast<std::size_t>(base::positive_shape(ld, g + "time_maa_q_w1", 2, "[C, D]")[1]);
        cfg_.rank_kv = static_cast<std::size_t>(base::positive_shape(ld, g + "time_maa_kv_w2", 3, "[2, D, C]")[1]);
        cfg_.rank_key = static_cast<std::size_t>(base::positive_shape(ld, g + "time_key_w1", 2, "[C, R]")[1]);
        cfg_.rank_value = static_cast<std::size_t>(base::positive_shape(ld, g + "time_value_w1", 2, "[C, R]")[1]);
        const std::size_t F = cfg_.dim_ffn, c = cfg_.compressed, H = cfg_.n_head, N = cfg_.head_size;

        cache_a_ = ld.matrix("w_kv_cache_a.weight", c, C);
        const auto b = ld.matrix("w_kv_cache_b.weight", C, C + c);
        if constexpr (quant_format<weight_type>)
            if (C % quant_block_size != 0)
                throw unsupported_error(ld.file().display_name() + ": " + std::string(Precision::name) +
                                        " needs n_embd to be a multiple of " + std::to_string(quant_block_size) +
                                        " for w_kv_cache_b (got " + std::to_string(C) + ")");
        cache_b_emb_ = b.cols_slice(0, C);  // columns 0 … C−1: e
        cache_b_c_ = b.cols_slice(C, c);    // columns C … C+c−1: c
        zeros_ = ld.keep(aligned_buffer<float>(C));

        blocks_.resize(L);
        for (std::size_t i = 0; i < L; ++i) {
            auto& blk = blocks_[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            blk.gold = i >= cfg_.n_c2;
            blk.ln1_weight = ld.vector(p + "ln1.weight", C);
            blk.ln1_bias = ld.vector(p + "ln1.bias", C);
            blk.cmix = load_channel_mix_block(ld, p, C, F, "time_maa_k", "time_maa_r");
            const std::string a = p + "att.";
            if (!blk.gold) {
                auto& w = blk.c2;
                const std::size_t D = cfg_.rank_mix;
                w.ddlerp = load_ddlerp<Precision, c2_targets>(ld, a, {"r", "k", "v", "w", "v2"}, C, D);
                w.time_decay = ld.vector(a + "time_decay", C);
                w.decay_lora = {ld.matrix(a + "time_decay_w1", C, cfg_.rank_decay), ld.matrix(a + "time_decay_w2", cfg_.rank_decay, C)};
                w.value2_lora = {ld.matrix(a + "time_value2_w1", C, cfg_.rank_v2), ld.matrix(a + "time_value2_w2", cfg_.rank_v2, C)};
                const auto u = ld.tensor(a + "time_faaaa", {i64(H), i64(N)});
                w.u = cfg_.use_v2 ? zeros_ : u;  // present but unused when v2 replaces the bonus (§2.1)
                w.receptance = ld.matrix(a + "receptance.weight", C, C);
                w.key = ld.matrix(a + "key.weight", C, C);
                w.value = ld.matrix(a + "value.weight", C, C);
                w.output = ld.matrix(a + "output.weight", C, C);
                w.ln_x_weight = ld.vector(a + "ln_x.weight", C);
                w.ln_x_bias = ld.vector(a + "ln_x.bias", C);
            } else {
                auto& w = blk.att;
                w.query_lerp = load_ddlerp<Precision, 1>(ld, a, {"q"}, C, cfg_.rank_q, "time_maa_q_w1", "time_maa_q_w2");
                w.maa_v_cache = ld.vector(a + "time_maa_v_cache", C);
                w.maa_k = ld.vector(a + "time_maa_k", C);
                w.maa_v = ld.vector(a + "time_maa_v", C);
                w.kv_w1 = ld.matrix(a + "time_maa_kv_w1", C, 2 * cfg_.rank_kv);
                const auto kv2 = ld.matrix_of_tensor(a + "time_maa_kv_w2", {2, i64(cfg_.rank_kv), i64(C)}, 2 * cfg_.rank_kv, C);
                w.kv_w2[0] = kv2.rows_slice(0, cfg_.rank_kv);
                w.kv_w2[1] = kv2.rows_slice(cfg_.rank_kv, cfg_.rank_kv);
                w.key_lora = {ld.matrix(a + "time_key_w1", C, cfg_.rank_key), ld.matrix(a + "time_key_w2", cfg_.rank_key, C)};
                w.value_lora = {ld.matrix(a + "time_value_w1", C, cfg_.rank_value),
                                ld.matrix(a + "time_value_w2", cfg_.rank_value, C)};
                w.query = ld.matrix(a + "query.weight", C, C);
                w.output = ld.matrix(a + "output.weight", C, C);
                w.ln_q_weight = ld.vector(a + "ln_q.weight", C);
                w.ln_q_bias = ld.vector(a + "ln_q.bias", C);
                w.ln_k_weight = ld.vector(a + "ln_k.weight", C);
                w.ln_k_bias = ld.vector(a + "ln_k.bias", C);
                w.ln_v_weight = ld.vector(a + "ln_v.weight", C);
                w.ln_v_bias = ld.vector(a + "ln_v.bias", C);
                w.ln_x_weight = ld.vector(a + "ln_x.weight", C);
                w.ln_x_bias = ld.vector(a + "ln_x.bias", C);
            }
        }
        // State-list indices (GOLD blocks have no kv entry).
        for (std::size_t i = 0, e = 0; i < L; ++i) {
            att_entry_.push_back(e++);
            kv_entry_.push_back(i < cfg_.n_c2 ? e++ : 0);
            ffn_entry_.push_back(e++);
        }
    }
};

}  // namespace rwkv::goldfinch
