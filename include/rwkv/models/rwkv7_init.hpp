// rwkv/models/rwkv7_init.hpp — random-weight RWKV-7 checkpoints at any shape.
//
// For demos, tests and benchmarks that need no download. Tensor names and shapes are the official
// training layout (arch-spec §5.1); LoRA ranks follow the released models of that width (§8) and
// the training code's formula elsewhere. Magnitudes mimic a trained model (the golden recipe of
// MANIFEST.md): unit-gain projections, decays from fast to very slow, logits of std ≈ 2.5.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/generate/rng.hpp"

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

struct named_tensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};

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
    generate::rng rng(o.seed);
    auto uniform = [&](float lo, float hi) { return lo + (hi - lo) * rng.uniform_float(); };

    std::vector<named_tensor> out;
    auto add = [&](std::string name, std::vector<std::int64_t> shape, auto&& gen) {
        std::size_t n = 1;
        for (auto d : shape) n *= static_cast<std::size_t>(d);
        named_tensor t{std::move(name), std::move(shape), std::vector<float>(n)};
        for (std::size_t i = 0; i < n; ++i) t.data[i] = gen(i);
        out.push_back(std::move(t));
    };
    const auto c = static_cast<std::int64_t>(C);
    auto vec = [&](const std::string& name, float lo, float hi) {
        add(name, {1, 1, c}, [&](std::size_t) { return uniform(lo, hi); });
    };
    // Entries of std gain/√fan_in: the scale of an orthogonal matrix of that gain.
    auto mat = [&](const std::string& name, std::size_t rows, std::size_t cols, float gain, std::size_t fan_in) {
        const float a = gain * std::sqrt(3.0f / static_cast<float>(fan_in));
        add(name, {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)},
            [&](std::size_t) { return uniform(-a, a); });
    };
    auto ln = [&](const std::string& name) {
        add(name + ".weight", {c}, [&](std::size_t) { return uniform(0.8f, 1.2f); });
        add(name + ".bias", {c}, [&](std::size_t) { return uniform(-0.05f, 0.05f); });
    };

    add("emb.weight", {static_cast<std::int64_t>(V), c}, [&](std::size_t) { return uniform(-1.0f, 1.0f); });
    for (std::size_t i = 0; i < L; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        ln(p + "ln1");
        ln(p + "ln2");
        if (i == 0) ln(p + "ln0");
        for (const char* x : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) vec(p + "att." + x, 0.05f, 0.95f);
        mat(p + "att.w1", C, R.w, 1.0f, C);
        mat(p + "att.w2", R.w, C, 1.0f, R.w);
        vec(p + "att.w0", -6.0f, 1.5f);  // decays from ~0.6 to ~0.999 per token
        mat(p + "att.a1", C, R.a, 1.0f, C);
        mat(p + "att.a2", R.a, C, 1.0f, R.a);
        vec(p + "att.a0", -1.0f, 1.0f);
        if (i > 0 || !o.g1_layout) {
            mat(p + "att.v1", C, R.v, 1.0f, C);
            mat(p + "att.v2", R.v, C, 1.0f, R.v);
            vec(p + "att.v0", 0.5f, 1.5f);
        }
        mat(p + "att.g1", C, R.g, 1.0f, C);
        mat(p + "att.g2", R.g, C, 1.0f, R.g);
        vec(p + "att.k_k", 0.7f, 1.0f);
        vec(p + "att.k_a", 0.8f, 1.2f);
        add(p + "att.r_k", {static_cast<std::int64_t>(H), static_cast<std::int64_t>(N)},
            [&](std::size_t) { return uniform(-0.3f, 0.3f); });
        for (const char* m : {"receptance", "key", "value"}) mat(p + "att." + m + ".weight", C, C, 1.0f, C);
        mat(p + "att.output.weight", C, C, 1.5f, C);
        add(p + "att.ln_x.weight", {c}, [&](std::size_t) { return uniform(0.5f, 1.0f); });
        add(p + "att.ln_x.bias", {c}, [&](std::size_t) { return uniform(-0.05f, 0.05f); });
        vec(p + "ffn.x_k", 0.05f, 0.95f);
        mat(p + "ffn.key.weight", F, C, std::sqrt(static_cast<float>(F) / static_cast<float>(C)), C);
        mat(p + "ffn.value.weight", C, F, 0.8f, F);
    }
    ln("ln_out");
    mat("head.weight", V, C, 2.5f, C);
    return out;
}

}  // namespace rwkv::rwkv7
