// rwkv/tooling/rwkv7_init.hpp — random-weight RWKV-7 checkpoints at any shape.
//
// For demos, tests and benchmarks that need no download. Tensor names and shapes are the official
// training layout (docs/spec/rwkv.md §5.1); LoRA ranks follow the released models of that width (§8) and
// the training code's formula elsewhere. Magnitudes mimic a trained model (the golden recipe,
// docs/architectures/init.md): unit-gain projections, decays from fast to very slow, logits of std ≈ 2.5.
// rwkv/tooling/init.hpp is the entry point for every architecture; the shared pieces (norms, lerp
// coefficients, channel mix, embedding and head) are init_common.hpp's builder.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/tooling/init_common.hpp"

namespace rwkv::rwkv7 {

struct init_options {
    std::size_t n_vocab = 256;
    std::size_t n_embd = 128;
    std::size_t n_layer = 2;
    std::size_t head_size = 64;
    std::size_t dim_ffn = 0;  // 0 → 4·C
    std::uint64_t seed = 0;
    bool g1_layout = false;   // omit layer 0's unused v0/v1/v2, as the released G1 files do
};

using rwkv::named_tensor;

struct lora_ranks {
    std::size_t w, a, v, g;
};

// Released ranks (§5.1/§8) where known; max(32, round(k·√C/32)·32) otherwise.
inline lora_ranks default_lora_ranks(std::size_t C) {
    if (C == 768 || C == 1024) return {64, 64, 32, 128};
    if (C == 2048) return {96, 96, 64, 256};
    auto rank = [](double x) {
        const double r = std::round(x / 32.0) * 32.0;
        return static_cast<std::size_t>(std::max(32.0, r));
    };
    const double c = static_cast<double>(C);
    return {rank(1.8 * std::sqrt(c)), rank(1.8 * std::sqrt(c)), rank(1.3 * std::sqrt(c)), rank(0.6 * std::pow(c, 0.8))};
}

inline std::vector<named_tensor> random_weights(const init_options& o) {
    const std::size_t C = o.n_embd, V = o.n_vocab, L = o.n_layer, N = o.head_size;
    if (C == 0 || V == 0 || L == 0 || N == 0 || C % N != 0)
        throw invalid_argument("rwkv7 init: need n_embd, n_vocab, n_layer > 0 and n_embd a multiple of head_size " +
                               std::to_string(N) + " (got n_embd " + std::to_string(C) + ")");
    const std::size_t H = C / N, F = o.dim_ffn ? o.dim_ffn : 4 * C;
    const lora_ranks R = default_lora_ranks(C);
    init_detail::builder b(o.seed, C);
    using init_detail::i64;

    b.embedding(V);
    for (std::size_t i = 0; i < L; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".", a = p + "att.";
        b.block_norms(p, i);
        for (const char* x : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) b.lerp(a + x);
        b.mat(a + "w1", C, R.w, 1.0f, C);
        b.mat(a + "w2", R.w, C, 1.0f, R.w);
        b.vec(a + "w0", -6.0f, 1.5f);  // decays from ~0.6 to ~0.999 per token
        b.mat(a + "a1", C, R.a, 1.0f, C);
        b.mat(a + "a2", R.a, C, 1.0f, R.a);
        b.vec(a + "a0", -1.0f, 1.0f);
        if (i > 0 || !o.g1_layout) {
            b.mat(a + "v1", C, R.v, 1.0f, C);
            b.mat(a + "v2", R.v, C, 1.0f, R.v);
            b.vec(a + "v0", 0.5f, 1.5f);
        }
        b.mat(a + "g1", C, R.g, 1.0f, C);
        b.mat(a + "g2", R.g, C, 1.0f, R.g);
        b.vec(a + "k_k", 0.7f, 1.0f);
        b.vec(a + "k_a", 0.8f, 1.2f);
        b.uniform_tensor(a + "r_k", {i64(H), i64(N)}, -0.3f, 0.3f);
        for (const char* m : {"receptance", "key", "value"}) b.linear(a + m + ".weight", C, C);
        b.linear(a + "output.weight", C, C, 1.5f);
        b.ln_x(a);
        b.channel_mix(p, F, "x_k", nullptr);
    }
    b.output(V);
    return std::move(b).take();
}

}  // namespace rwkv::rwkv7
