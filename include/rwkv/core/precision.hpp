// rwkv/core/precision.hpp — precision policies: how weights are stored, how ops compute.
//
// A policy fixes the storage type of the checkpoint's matrices (linear layers, LoRA factors, head).
// Everything else follows docs/contracts.md: activations and accumulation are f32 (the reference
// backend accumulates reductions in double), the recurrent state is always f32, and every tensor
// derived at load time (decays computed from parameters) stays f32; so does the ln0-folded
// embedding table, except that the quantized policies store it as int8 blocks.
// Per-channel vectors of a bf16/f16 policy are rounded to that type and kept as f32 values.
#pragma once

#include <concepts>
#include <string_view>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/quant.hpp"

namespace rwkv::precision {

// Weights f32, compute f32 — matches the official 'cpu fp32' goldens to ≤ 1e-4.
struct f32 {
    using weight_type = float;
    using embedding_type = float;
    static constexpr std::string_view name = "f32";
};

// Weights bf16 (round to nearest even from f32, exact from a bf16 checkpoint), compute f32.
struct bf16 {
    using weight_type = rwkv::bf16;
    using embedding_type = float;
    static constexpr std::string_view name = "bf16";
};

// Weights IEEE f16, compute f32.
struct f16 {
    using weight_type = rwkv::f16;
    using embedding_type = float;
    static constexpr std::string_view name = "f16";
};

// Matrices block-quantized to 8-bit codes with an f32 scale per 32 weights (core/quant.hpp),
// the (ln0-folded) embedding table too; per-channel vectors, activations and state stay f32, except
// that W·x quantizes x to int8 blocks on the fly for integer block dot products (core/quant.hpp).
struct int8 {
    using weight_type = int8_block;
    using embedding_type = int8_block;
    static constexpr std::string_view name = "int8";
};

// Matrices block-quantized to 4-bit codes with an f32 scale per 32 weights (W·x as for int8); the
// embedding table, one row of which is read per token, is int8 (it costs file size and memory, not
// bandwidth).
struct int4 {
    using weight_type = int4_block;
    using embedding_type = int8_block;
    static constexpr std::string_view name = "int4";
};

template <class P>
concept policy = requires {
    typename P::weight_type;
    typename P::embedding_type;  // the ln0-folded embedding table: float, or int8_block
    { P::name } -> std::convertible_to<std::string_view>;
};

// Round a value as storing it under policy P would (identity for f32).
template <policy P>
constexpr float round_to_weight(float x) noexcept {
    if constexpr (quant_format<typename P::weight_type>) return x;  // only matrices are quantized
    else return to_f32(from_f32<typename P::weight_type>(x));
}

}  // namespace rwkv::precision
