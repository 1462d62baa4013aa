// rwkv/tooling/goldfinch_init.hpp — random-weight GoldFinch checkpoints at any shape.
//
// Tensor names, shapes and order are the official Transformer state_dict (docs/spec/goldfinch.md §4; the
// golden goldfinch-c128-l3 list): Finch-C2 blocks 0 … n_c2−1 and GOLD blocks above them with the
// released defaults inv_other_layer_ratio 3 (n_c2 = ⌊L·2/3⌋, so L ≥ 2), kv_cache_compression_ratio
// 16 (c = C/16), use_v2 = use_one_minus_w = 1, LoRA ranks 32 (ddlerp, query, kv), 64 (decay, v2)
// and max(C/16, 64) (GOLD key/value). The loader infers all of these from the tensors except the
// head size, which its default options take as 64: init.hpp therefore accepts head_size 64 only, and
// the loader's defaults open the file with no config. config_json() is the matching official config
// (init_metadata stores it in __metadata__["config"]).
//
// Magnitudes follow init_common.hpp and the golden recipe: GOLD ln_q/ln_k weights ≈ 1.5 (peaked,
// not one-hot attention), w_kv_cache_b's compressed columns ×2.5 so that the compressed key and
// the embedding contribute comparably to the decompressed key.
// Use rwkv/tooling/init.hpp, which validates the options, rather than calling this directly.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/tooling/init_common.hpp"

namespace rwkv::goldfinch {

inline constexpr std::size_t init_layer_ratio = 3;         // inv_other_layer_ratio
inline constexpr std::size_t init_compression_ratio = 16;  // kv_cache_compression_ratio
inline constexpr std::size_t init_head_size = 64;          // what options{} (no config) expects

// Finch-C2 blocks for n_layer blocks: the official int(n_layer·(r−1)/r).
inline std::size_t init_finch_c2_layers(std::size_t n_layer) {
    return n_layer * (init_layer_ratio - 1) / init_layer_ratio;
}

inline std::vector<named_tensor> random_weights(const init_options& o) {
    const std::size_t C = o.n_embd, H = C / o.head_size, N = o.head_size, L = o.n_layer;
    const std::size_t F = o.dim_ffn ? o.dim_ffn : default_dim_ffn(architecture::goldfinch, C);
    const std::size_t n_c2 = init_finch_c2_layers(L), c = C / init_compression_ratio;
    const std::size_t D_mix = 32, D_dec = 64, D_v2 = 64, D_q = 32, D_kv = 32, R = std::max<std::size_t>(C / 16, 64);
    init_detail::builder b(o.seed, C);
    using init_detail::i64;

    b.embedding(o.n_vocab);
    for (std::size_t i = 0; i < L; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".", a = p + "att.";
        b.block_norms(p, i);
        if (i < n_c2) {  // Finch-C2 (§2.1)
            for (const char* m : {"x", "r", "k", "v", "w", "v2"}) b.lerp(a + "time_maa_" + m);
            b.lora(a + "time_maa_w1", a + "time_maa_w2", D_mix, 0.1f, 5);
            b.log_log_decay(a + "time_decay", {1, 1, i64(C)});
            b.lora(a + "time_decay_w1", a + "time_decay_w2", D_dec, 0.2f);
            b.lora(a + "time_value2_w1", a + "time_value2_w2", D_v2, 0.2f);
            b.bonus(a + "time_faaaa", H, N);  // present, unused with use_v2
            for (const char* m : {"receptance", "key", "value"}) b.linear(a + m + ".weight", C, C);
            b.linear(a + "output.weight", C, C, 0.8f);
            b.ln_x(a);
        } else {  // GOLD (§3.2)
            for (const char* m : {"x", "q", "v_cache", "k", "v"}) b.lerp(a + "time_maa_" + m);
            b.lora(a + "time_maa_q_w1", a + "time_maa_q_w2", D_q, 0.1f);
            b.lora(a + "time_maa_kv_w1", a + "time_maa_kv_w2", D_kv, 0.1f, 2);
            b.lora(a + "time_key_w1", a + "time_key_w2", R, 0.2f);
            b.lora(a + "time_value_w1", a + "time_value_w2", R, 0.2f);
            b.linear(a + "query.weight", C, C);
            b.linear(a + "output.weight", C, C, 0.8f);
            b.ln(a + "ln_q", 1.2f, 1.8f);
            b.ln(a + "ln_k", 1.2f, 1.8f);
            b.ln(a + "ln_v");
            b.ln_x(a);
        }
        b.channel_mix(p, F, "time_maa_k", "time_maa_r");
    }
    b.output(o.n_vocab);
    b.linear("w_kv_cache_a.weight", c, C);
    const float s = std::sqrt(3.0f / static_cast<float>(C + c));
    b.add("w_kv_cache_b.weight", {i64(C), i64(C + c)},
          [&](std::size_t k) { return (k % (C + c) < C ? 1.0f : 2.5f) * b.uniform(-s, s); });
    return std::move(b).take();
}

// The official {"model": {...}} config of a random_weights(o) model (the shape of the golden
// goldfinch-c128-l3.config.json), for goldfinch::read_config and the official code.
inline nlohmann::json config_json(const init_options& o) {
    const std::size_t F = o.dim_ffn ? o.dim_ffn : default_dim_ffn(architecture::goldfinch, o.n_embd);
    return {{"model",
             {{"__type__", "configs.FinchC2_Config"},
              {"tmix", "x060c2"},
              {"tmix2", "gold"},
              {"inv_other_layer_ratio", init_layer_ratio},
              {"n_layer", o.n_layer},
              {"n_embd", o.n_embd},
              {"vocab_size", o.n_vocab},
              {"cmix", "x060"},
              {"cmix2", "x060"},
              {"parallel", 0},
              {"ctx_len", 4096},
              {"dropout", 0.0},
              {"kv_cache_compression_ratio", init_compression_ratio},
              {"dim_att", o.n_embd},
              {"dim_ffn", F},
              {"head_size", o.head_size},
              {"head_size_divisor", 8},
              {"rope", nullptr},
              {"brope", nullptr},
              {"alibi", nullptr},
              {"use_one_minus_w", 1},
              {"use_v2", 1}}},
            {"note", "random weights made by rwkv::goldfinch::random_weights (seed " + std::to_string(o.seed) + ")"}};
}

}  // namespace rwkv::goldfinch
