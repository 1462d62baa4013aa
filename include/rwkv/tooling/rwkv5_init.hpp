// rwkv/tooling/rwkv5_init.hpp — random-weight RWKV-5.2 ("Eagle") checkpoints at any shape.
//
// Tensor names, shapes and order are the official training layout (RWKV-LM RWKV-v5 RWKV_Tmix_x052,
// docs/spec/rwkv.md §3.1; the golden v5-c128-l2 list): time_decay and time_faaaa are [H, N], which is what
// tells 5.2 from 5.0/5.1. Magnitudes follow init_common.hpp; time_decay (log-log, per-token decay
// exp(−exp(d)) from ~0.37 to ~0.9997) and the bonus time_faaaa are the builder's, shared with RWKV-6.
// Use rwkv/tooling/init.hpp, which validates the options, rather than calling this directly.
#pragma once

#include <string>
#include <vector>

#include "rwkv/tooling/init_common.hpp"

namespace rwkv::rwkv5 {

inline std::vector<named_tensor> random_weights(const init_options& o) {
    const std::size_t C = o.n_embd, H = C / o.head_size, N = o.head_size;
    const std::size_t F = o.dim_ffn ? o.dim_ffn : default_dim_ffn(architecture::rwkv5, C);
    init_detail::builder b(o.seed, C);
    using init_detail::i64;

    b.embedding(o.n_vocab);
    for (std::size_t i = 0; i < o.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".", a = p + "att.";
        b.block_norms(p, i);
        for (const char* m : {"time_mix_k", "time_mix_v", "time_mix_r", "time_mix_g"}) b.lerp(a + m);
        b.log_log_decay(a + "time_decay", {i64(H), i64(N)});
        b.bonus(a + "time_faaaa", H, N);
        for (const char* m : {"receptance", "key", "value"}) b.linear(a + m + ".weight", C, C);
        b.linear(a + "output.weight", C, C, 0.8f);
        b.linear(a + "gate.weight", C, C);
        b.ln_x(a);
        b.channel_mix(p, F, "time_mix_k", "time_mix_r");
    }
    b.output(o.n_vocab);
    return std::move(b).take();
}

}  // namespace rwkv::rwkv5
