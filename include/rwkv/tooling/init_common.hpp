// rwkv/tooling/init_common.hpp — what every random-weight generator (rwkv4_init … goldfinch_init)
// shares: the options, the output tensor type, and a builder that draws each tensor from one PCG32
// stream in the order it is added.
//
// The magnitude recipe is the golden one (docs/architectures/init.md, "Magnitudes"),
// with uniform draws: a [rows, cols] projection has entries of std gain/√fan_in (the scale of an
// orthogonal matrix of that gain), so unit-scale inputs give outputs of std ≈ gain; LayerNorm
// weights ≈ 1, token-shift lerp coefficients across (0, 1), the embedding uniform(±1) and the head
// of gain 2.5, so logits have std ≈ 2.5 like a trained model's.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rwkv/core/architecture.hpp"
#include "rwkv/generate/rng.hpp"

namespace rwkv {

// One tensor of a generated checkpoint: official name and shape, f32 row-major data.
struct named_tensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};

// The shape and seed of a random-weight model (rwkv/tooling/init.hpp validates and dispatches).
struct init_options {
    architecture arch = architecture::rwkv7;
    std::size_t n_vocab = 256;
    std::size_t n_embd = 128;
    std::size_t n_layer = 2;
    std::size_t head_size = 64;  // ignored by RWKV-4 (no heads)
    std::size_t dim_ffn = 0;     // 0 → the version's default (default_dim_ffn)
    std::uint64_t seed = 0;
    bool g1_layout = false;      // RWKV-7 only: omit layer 0's unused v0/v1/v2 (released G1 files)
};

// The training code's FFN width: 4·C for RWKV-4 and RWKV-7; int(3.5·C)//32·32 for RWKV-5.2, RWKV-6
// and GoldFinch (docs/spec/rwkv.md §1.3; docs/architectures/init.md).
inline std::size_t default_dim_ffn(architecture arch, std::size_t C) {
    if (arch == architecture::rwkv4 || arch == architecture::rwkv7) return 4 * C;
    return 7 * C / 2 / 32 * 32;
}

namespace init_detail {

inline std::int64_t i64(std::size_t n) { return static_cast<std::int64_t>(n); }

// Appends tensors in order, drawing every element from one generator: the same options give the
// same bytes on every platform (rng.hpp: integer arithmetic and exact conversions only).
class builder {
public:
    builder(std::uint64_t seed, std::size_t n_embd) : rng_(seed), C_(n_embd) {}

    std::size_t n_embd() const noexcept { return C_; }

    float uniform(float lo, float hi) { return lo + (hi - lo) * rng_.uniform_float(); }

    // A tensor whose element i is gen(i).
    template <class Gen>
    void add(std::string name, std::vector<std::int64_t> shape, Gen&& gen) {
        std::size_t n = 1;
        for (auto d : shape) n *= static_cast<std::size_t>(d);
        named_tensor t{std::move(name), std::move(shape), std::vector<float>(n)};
        for (std::size_t i = 0; i < n; ++i) t.data[i] = gen(i);
        out_.push_back(std::move(t));
    }

    // Every element uniform in [lo, hi).
    void uniform_tensor(const std::string& name, std::vector<std::int64_t> shape, float lo, float hi) {
        add(name, std::move(shape), [&](std::size_t) { return uniform(lo, hi); });
    }

    // A per-channel vector stored as the training code saves it, [1, 1, C].
    void vec(const std::string& name, float lo, float hi) { uniform_tensor(name, {1, 1, i64(C_)}, lo, hi); }

    // A token-shift lerp coefficient (time_mix_*, time_maa_*, x_*): spread across (0, 1).
    void lerp(const std::string& name) { vec(name, 0.05f, 0.95f); }

    // [rows, cols] with entries of std gain/√fan_in.
    void mat(const std::string& name, std::size_t rows, std::size_t cols, float gain, std::size_t fan_in) {
        const float a = gain * std::sqrt(3.0f / static_cast<float>(fan_in));
        uniform_tensor(name, {i64(rows), i64(cols)}, -a, a);
    }

    // A projection of unit-scale inputs: nn.Linear [out, in] of the given gain.
    void linear(const std::string& name, std::size_t out, std::size_t in, float gain = 1.0f) {
        mat(name, out, in, gain, in);
    }

    // LayerNorm/GroupNorm `name`.weight [C] uniform(w_lo, w_hi), `name`.bias [C] uniform(±0.05).
    void ln(const std::string& name, float w_lo = 0.8f, float w_hi = 1.2f) {
        uniform_tensor(name + ".weight", {i64(C_)}, w_lo, w_hi);
        uniform_tensor(name + ".bias", {i64(C_)}, -0.05f, 0.05f);
    }

    // The norm on the time mix's output (att.ln_x): a little below 1, as in trained models.
    void ln_x(const std::string& prefix) { ln(prefix + "ln_x", 0.5f, 1.0f); }

    // A LoRA applied as tanh(x·w1)·w2: w1 [C, K·D] of gain 1, w2 uniform(±up) shaped [D, C], or
    // [K, D, C] for K stacked targets (RWKV-6's time_maa_w2, GOLD's time_maa_kv_w2).
    void lora(const std::string& w1, const std::string& w2, std::size_t D, float up, std::size_t K = 1) {
        mat(w1, C_, K * D, 1.0f, C_);
        uniform_tensor(w2, K > 1 ? std::vector<std::int64_t>{i64(K), i64(D), i64(C_)} : std::vector{i64(D), i64(C_)},
                       -up, up);
    }

    // A log-log decay d (per-token decay exp(−exp(d)), RWKV-5.2/6, Finch-C2): uniform in [−8, 0], so
    // channels range from fast (~0.37) to very slow (~0.9997) memory, as in trained models.
    void log_log_decay(const std::string& name, std::vector<std::int64_t> shape) {
        uniform_tensor(name, std::move(shape), -8.0f, 0.0f);
    }

    // The current-token bonus time_faaaa [H, N], used raw (official init ≈ 0…1 plus noise).
    void bonus(const std::string& name, std::size_t H, std::size_t N) {
        uniform_tensor(name, {i64(H), i64(N)}, -0.5f, 1.0f);
    }

    // emb.weight [V, C]: uniform(±1); ln0 turns it into unit-scale rows at load time.
    void embedding(std::size_t V) { uniform_tensor("emb.weight", {i64(V), i64(C_)}, -1.0f, 1.0f); }

    // blocks.i.ln1, ln2 and (block 0) ln0, in the official order.
    void block_norms(const std::string& prefix, std::size_t layer) {
        ln(prefix + "ln1");
        ln(prefix + "ln2");
        if (layer == 0) ln(prefix + "ln0");
    }

    // The channel mix of every version: ffn.{mu_k}, ffn.{mu_r} (when not null), ffn.key [F, C] of
    // gain √(F/C), ffn.receptance [C, C] (with mu_r), ffn.value [C, F] of gain 0.8.
    void channel_mix(const std::string& prefix, std::size_t F, const char* mu_k, const char* mu_r) {
        const std::string p = prefix + "ffn.";
        lerp(p + mu_k);
        if (mu_r) lerp(p + mu_r);
        mat(p + "key.weight", F, C_, std::sqrt(static_cast<float>(F) / static_cast<float>(C_)), C_);
        if (mu_r) linear(p + "receptance.weight", C_, C_);
        mat(p + "value.weight", C_, F, 0.8f, F);
    }

    // ln_out and head.weight [V, C] of gain 2.5: logits of std ≈ 2.5.
    void output(std::size_t V) {
        ln("ln_out");
        mat("head.weight", V, C_, 2.5f, C_);
    }

    std::vector<named_tensor> take() && { return std::move(out_); }

private:
    generate::rng rng_;
    std::size_t C_;
    std::vector<named_tensor> out_;
};

}  // namespace init_detail
}  // namespace rwkv
