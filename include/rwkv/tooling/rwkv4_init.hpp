// rwkv/tooling/rwkv4_init.hpp — random-weight RWKV-4 checkpoints at any shape.
//
// Tensor names, shapes and order are the official training layout (RWKV-LM RWKV-v4neo, docs/spec/rwkv.md §2.1;
// the golden v4-c128-l2 list). Magnitudes follow init_common.hpp; the time-mixing parameters:
//   time_decay ∈ [−5, 3]   the official init's range: per-token decay exp(−exp(d)) from ~0.993 to ~0
//   time_first ∈ [−1.5, 0.5] the log-bonus of the current token (official: log 0.3 ± 0.5)
// Use rwkv/tooling/init.hpp, which validates the options, rather than calling this directly.
#pragma once

#include <string>
#include <vector>

#include "rwkv/tooling/init_common.hpp"

namespace rwkv::rwkv4 {

inline std::vector<named_tensor> random_weights(const init_options& o) {
    const std::size_t C = o.n_embd, F = o.dim_ffn ? o.dim_ffn : default_dim_ffn(architecture::rwkv4, C);
    init_detail::builder b(o.seed, C);
    using init_detail::i64;

    b.embedding(o.n_vocab);
    for (std::size_t i = 0; i < o.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".", a = p + "att.";
        b.block_norms(p, i);
        b.uniform_tensor(a + "time_decay", {i64(C)}, -5.0f, 3.0f);
        b.uniform_tensor(a + "time_first", {i64(C)}, -1.5f, 0.5f);
        for (const char* m : {"time_mix_k", "time_mix_v", "time_mix_r"}) b.lerp(a + m);
        for (const char* m : {"key", "value", "receptance"}) b.linear(a + m + ".weight", C, C);
        b.linear(a + "output.weight", C, C, 0.8f);
        b.channel_mix(p, F, "time_mix_k", "time_mix_r");
    }
    b.output(o.n_vocab);
    return std::move(b).take();
}

}  // namespace rwkv::rwkv4
