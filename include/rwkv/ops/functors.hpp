// rwkv/ops/functors.hpp — the element-wise formulas of the architectures, as named functors for
// ops::map.
//
// One struct per distinct formula. A lambda written inside a model's member function cannot be
// named from a separately compiled CUDA kernel; these structs can, and RWKV_HOST_DEVICE lets the
// same operator() run in a host loop and on a device. The arguments come in the order the inputs
// are passed to ops::map, and each expression is the one the reference computes, operand for
// operand (float arithmetic does not reassociate: the goldens and the batch tests compare bits).
// Section numbers are docs/spec/rwkv.md's unless another document is named.
#pragma once

#include "rwkv/core/host_device.hpp"
#include "rwkv/ops/map.hpp"

namespace rwkv::ops::fn {

// ---- arithmetic -------------------------------------------------------------------------------

// a + b: residuals x ← x + dx (§2.3–§5.3), K̃ and k¹ (docs/spec/goldfinch.md §3.1, §3.2),
// p + MLP(p) (docs/spec/embedding.md §3.5).
struct add {
    RWKV_HOST_DEVICE float operator()(float a, float b) const noexcept { return a + b; }
};

// a + b + c, left to right: GoldFinch's y + v2 + LoRA(v2) (docs/spec/goldfinch.md §2.1).
struct add3 {
    RWKV_HOST_DEVICE float operator()(float a, float b, float c) const noexcept { return a + b + c; }
};

// a − b: ddlerp's d = prev − a (Eagle/Finch paper §5, §4.3).
struct subtract {
    RWKV_HOST_DEVICE float operator()(float a, float b) const noexcept { return a - b; }
};

// a · b: gating r ⊙ wkv (§2.3), o ⊙ g (§3.3, §4.3, §5.3); RWKV-7's k ⊙ k_k and κ̂ ⊙ α (§5.3).
struct multiply {
    RWKV_HOST_DEVICE float operator()(float a, float b) const noexcept { return a * b; }
};

// −a: RWKV-7's a = −κ̂ in the delta rule (§5.3).
struct negate {
    RWKV_HOST_DEVICE float operator()(float a) const noexcept { return -a; }
};

// a: RWKV-7 layer 0 keeps v as v_first (§5.3); RWKV-5's constant decay w copied per token (§3.3).
struct copy {
    RWKV_HOST_DEVICE float operator()(float a) const noexcept { return a; }
};

// 0: GoldFinch's zero row, ô_{−1} = K̃_{−1} = 0 before position 0 (docs/spec/goldfinch.md §3.2).
struct zero {
    RWKV_HOST_DEVICE float operator()() const noexcept { return 0.0f; }
};

// ---- activations ------------------------------------------------------------------------------

// σ(x): RWKV-4's receptance r = σ(W_r x_r) (§2.3); RWKV-7's output-gate LoRA σ(x G1) (§5.3).
struct sigmoid {
    RWKV_HOST_DEVICE float operator()(float x) const noexcept { return ops::sigmoid(x); }
};

// x · σ(x): RWKV-5/6's gate g = SiLU(W_g x_g) (§3.3, §4.3).
struct silu {
    RWKV_HOST_DEVICE float operator()(float x) const noexcept { return ops::silu(x); }
};

// max(x, 0)²: the channel-mix hidden activation relu² (§2.3).
struct relu_squared {
    RWKV_HOST_DEVICE float operator()(float x) const noexcept { return ops::relu_squared(x); }
};

// max(x, 0): the embedding task head's fc1 activation (docs/spec/embedding.md §3.5).
struct relu {
    RWKV_HOST_DEVICE float operator()(float x) const noexcept { return x > 0.0f ? x : 0.0f; }
};

// tanh(x): the tanh LoRAs (§1.2, §4.3, §5.3); GoldFinch's z = tanh(u G1) (docs/spec/goldfinch.md §3.2).
struct tanh {
    RWKV_HOST_DEVICE float operator()(float x) const noexcept { return math::tanh(x); }
};

// tanh(x + b): the reranker's hidden layer tanh(W0 y + b0) (docs/spec/embedding.md §6.4).
struct tanh_of_sum {
    RWKV_HOST_DEVICE float operator()(float x, float b) const noexcept { return math::tanh(x + b); }
};

// σ(bias + lora): RWKV-7's in-context learning rate α = σ(a0 + x_a A1 A2) (§5.3).
struct sigmoid_of_sum {
    RWKV_HOST_DEVICE float operator()(float lora, float bias) const noexcept { return ops::sigmoid(bias + lora); }
};

// σ(r) · v: the channel mix's receptance gate σ(W_r x_r) ⊙ W_v relu²(·) (§2.3).
struct sigmoid_gate {
    RWKV_HOST_DEVICE float operator()(float v, float r) const noexcept { return ops::sigmoid(r) * v; }
};

// ---- token shift ------------------------------------------------------------------------------

// a + (p − a) · μ: mix_previous, μ weights the previous token (RWKV-6, 7; §6 item 5).
struct lerp_previous {
    RWKV_HOST_DEVICE float operator()(float a, float p, float mu) const noexcept { return a + (p - a) * mu; }
};

// a · μ + p · (1 − μ): mix_current, μ weights the current token (RWKV-4, 5; §6 item 5).
struct lerp_current {
    RWKV_HOST_DEVICE float operator()(float a, float p, float mu) const noexcept { return a * mu + p * (1.0f - mu); }
};

// a + (p − a) · (μ + lora): GoldFinch's cache lerps k⁰ and v⁰ (docs/spec/goldfinch.md §3.2).
struct lerp_previous_lora {
    RWKV_HOST_DEVICE float operator()(float a, float p, float mu, float lora) const noexcept {
        return a + (p - a) * (mu + lora);
    }
};

// a + d · μ, d = prev − a already formed: ddlerp's z = a + d ⊙ μ_x (Eagle/Finch paper §5, §4.3).
struct lerp_delta {
    RWKV_HOST_DEVICE float operator()(float a, float d, float mu) const noexcept { return a + d * mu; }
};

// a + d · (μ + lora): ddlerp's x_f = a + d ⊙ (μ_f + h_f W2_f) (Eagle/Finch paper §5, §4.3).
struct lerp_delta_lora {
    RWKV_HOST_DEVICE float operator()(float a, float d, float mu, float lora) const noexcept {
        return a + d * (mu + lora);
    }
};

// ---- decays and keys --------------------------------------------------------------------------

// exp(−exp(w0 + lora)): RWKV-6's data-dependent decay (§4.3), GoldFinch's (docs/spec/goldfinch.md §2.1).
struct rwkv6_decay {
    RWKV_HOST_DEVICE float operator()(float lora, float w0) const noexcept {
        return math::exp(-math::exp(w0 + lora));
    }
};

// exp(−e^{−1/2} · σ(w0 + lora)), in (0.545, 1), no clamp: RWKV-7's decay (§5.3, §6 item 17).
struct rwkv7_decay {
    // e^(−1/2), written as the reference does (§6 item 16).
    static constexpr float scale = 0.606531f;
    RWKV_HOST_DEVICE float operator()(float lora, float w0) const noexcept {
        return math::exp(-scale * ops::sigmoid(w0 + lora));
    }
};

// k · (1 − w): GoldFinch's key scaled by one minus the decay (docs/spec/goldfinch.md §2.1, use_one_minus_w).
struct scale_by_one_minus {
    RWKV_HOST_DEVICE float operator()(float k, float w) const noexcept { return k * (1.0f - w); }
};

// k · (1 + (α − 1) · k_a): RWKV-7's replacement key (§5.3).
struct rwkv7_replacement_key {
    RWKV_HOST_DEVICE float operator()(float k, float alpha, float k_a) const noexcept {
        return k * (1.0f + (alpha - 1.0f) * k_a);
    }
};

// v + (v_first − v) · σ(v0 + lora): RWKV-7's value residual, layers after the first (§5.3).
struct value_residual {
    RWKV_HOST_DEVICE float operator()(float v, float v_first, float lora, float v0) const noexcept {
        return v + (v_first - v) * ops::sigmoid(v0 + lora);
    }
};

}  // namespace rwkv::ops::fn
