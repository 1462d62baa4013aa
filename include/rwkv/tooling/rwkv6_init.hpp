// rwkv/tooling/rwkv6_init.hpp — random-weight RWKV-6 ("Finch", x060) checkpoints at any shape.
//
// Tensor names, shapes and order are the official training layout (RWKV-LM RWKV-v5 RWKV_Tmix_x060,
// docs/spec/rwkv.md §4.1; the golden v6-c128-l2 list). LoRA ranks are the released ones: D_mix 32 and
// D_dec 64, or 64 and 128 from C = 4096 (docs/spec/rwkv.md §4.1, §8). Magnitudes follow init_common.hpp;
// the ddlerp offsets tanh(·)·time_maa_w2 are ~0.2, the decay LoRA moves log-log decays by ~0.6.
// Use rwkv/tooling/init.hpp, which validates the options, rather than calling this directly.
#pragma once

#include <string>
#include <vector>

#include "rwkv/tooling/init_common.hpp"

namespace rwkv::rwkv6 {

struct lora_ranks {
    std::size_t mix, decay;
};

inline lora_ranks default_lora_ranks(std::size_t C) { return C >= 4096 ? lora_ranks{64, 128} : lora_ranks{32, 64}; }

inline std::vector<named_tensor> random_weights(const init_options& o) {
    const std::size_t C = o.n_embd, H = C / o.head_size, N = o.head_size;
    const std::size_t F = o.dim_ffn ? o.dim_ffn : default_dim_ffn(architecture::rwkv6, C);
    const lora_ranks R = default_lora_ranks(C);
    init_detail::builder b(o.seed, C);

    b.embedding(o.n_vocab);
    for (std::size_t i = 0; i < o.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".", a = p + "att.";
        b.block_norms(p, i);
        for (const char* m : {"x", "w", "k", "v", "r", "g"}) b.lerp(a + "time_maa_" + m);
        b.lora(a + "time_maa_w1", a + "time_maa_w2", R.mix, 0.1f, 5);
        b.log_log_decay(a + "time_decay", {1, 1, init_detail::i64(C)});
        b.lora(a + "time_decay_w1", a + "time_decay_w2", R.decay, 0.2f);
        b.bonus(a + "time_faaaa", H, N);
        for (const char* m : {"receptance", "key", "value"}) b.linear(a + m + ".weight", C, C);
        b.linear(a + "output.weight", C, C, 0.8f);
        b.linear(a + "gate.weight", C, C);
        b.ln_x(a);
        b.channel_mix(p, F, "time_maa_k", "time_maa_r");
    }
    b.output(o.n_vocab);
    return std::move(b).take();
}

}  // namespace rwkv::rwkv6
