// rwkv/io/ggml_types.hpp — the element types of GGUF tensors (ggml's type codes) and the exact
// conversion of the ones we read to f32. Layouts as docs/formats.md describes them (GGUF section).
//
// A block-quantized type packs `block_elements` consecutive weights of a row into `block_bytes`
// bytes: an f16 scale d (and for the _1 types an f16 offset m) followed by the codes.
//   Q8_0: d, 32 int8 codes q                   x = d·q
//   Q4_0: d, 16 bytes of 4-bit codes           x = d·(q − 8)
//   Q4_1: d, m, 16 bytes of 4-bit codes        x = d·q + m
//   Q5_0: d, 4 bytes of high bits, 16 bytes    x = d·(q − 16)
//   Q5_1: d, m, 4 bytes of high bits, 16 bytes x = d·q + m
// The 4-bit codes of element j < 16 are the low nibble of byte j, of element j + 16 its high nibble;
// the Q5 fifth bit of element j is bit j of the little-endian 32-bit high-bits word.
// Q8_0 and Q4_0/Q5_0 are exact in f32 (an f16 times a small integer); the _1 types round once, in
// the addition, as every reader of these files does.
//
// The K-quants pack a super-block of 256 weights, split into sub-blocks that each get their own
// small integer scale (and for Q2_K/Q4_K/Q5_K a min) relative to the super-block's f16 d (and dmin):
//   Q2_K (84 bytes): scales[16], qs[64], d, dmin. 16 sub-blocks of 16; sub-block i has scale
//        scales[i] & 15 and min scales[i] >> 4; x = (d·sc)·q − dmin·m, q 2 bits.
//   Q3_K (110 bytes): hmask[32], qs[64], scales[12], d. 16 sub-blocks of 16 with 6-bit scales s:
//        low 4 bits = nibble (i & 7) of bytes 0..7 (low nibble for i < 8, high for i ≥ 8), high 2
//        bits = bits 2·(i / 4) of byte 8 + i % 4; x = (d·(s − 32))·(q − 4·(1 − h)), q 2 bits and h
//        the high bit from hmask.
//   Q4_K (144 bytes): d, dmin, scales[12], qs[128]. 8 sub-blocks of 32 with 6-bit scale sc and min m
//        packed in 12 bytes: for i < 4 sc = b[i] & 63, m = b[i + 4] & 63; for i ≥ 4 sc = (b[i + 4]
//        & 15) | (b[i − 4] >> 6) << 4, m = (b[i + 4] >> 4) | (b[i] >> 6) << 4. x = (d·sc)·q − dmin·m.
//   Q5_K (176 bytes): d, dmin, scales[12] (as Q4_K), qh[32], qs[128]; q gets a fifth bit from qh.
//   Q6_K (210 bytes): ql[128], qh[64], scales[16] (int8), d. 16 sub-blocks of 16; q 6 bits from a
//        nibble of ql and two bits of qh; x = (d·scale)·(q − 32).
// Within each 64 (Q4_K/Q5_K), 128 (Q2_K/Q3_K/Q6_K) weights the codes are interleaved across bytes:
// see the decoders below. Dequantization evaluates exactly these products in this order, in f32,
// like ggml's reference decoder; Q3_K and Q6_K are exact (an f16 times small integers), the types
// with a min round once in the subtraction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>

#include "rwkv/core/dtype.hpp"

namespace rwkv::io {

// The ggml type codes this library reads; others are named in errors by ggml_type_name.
namespace ggml_type {
inline constexpr std::uint32_t f32 = 0;
inline constexpr std::uint32_t f16 = 1;
inline constexpr std::uint32_t q4_0 = 2;
inline constexpr std::uint32_t q4_1 = 3;
inline constexpr std::uint32_t q5_0 = 6;
inline constexpr std::uint32_t q5_1 = 7;
inline constexpr std::uint32_t q8_0 = 8;
inline constexpr std::uint32_t q2_k = 10;
inline constexpr std::uint32_t q3_k = 11;
inline constexpr std::uint32_t q4_k = 12;
inline constexpr std::uint32_t q5_k = 13;
inline constexpr std::uint32_t q6_k = 14;
inline constexpr std::uint32_t bf16 = 30;
}  // namespace ggml_type

// The name ggml gives a type code ("Q4_K"), or "type N" for a code it does not have.
inline std::string ggml_type_name(std::uint32_t type) {
    static constexpr const char* names[] = {
        "F32",    "F16",      "Q4_0",     "Q4_1",     "Q4_2",  "Q4_3",  "Q5_0",       "Q5_1",       "Q8_0",    "Q8_1",   //  0-9
        "Q2_K",   "Q3_K",     "Q4_K",     "Q5_K",     "Q6_K",  "Q8_K",  "IQ2_XXS",    "IQ2_XS",     "IQ3_XXS", "IQ1_S",  // 10-19
        "IQ4_NL", "IQ3_S",    "IQ2_S",    "IQ4_XS",   "I8",    "I16",   "I32",        "I64",        "F64",     "IQ1_M",  // 20-29
        "BF16",   "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};  // 30-39
    if (type < std::size(names)) return std::string(names[type]) + " (type " + std::to_string(type) + ")";
    return "type " + std::to_string(type);
}

// Elements per block and bytes per block of a type we read; block_elements 0 for any other type.
struct ggml_block_layout {
    std::uint32_t block_elements = 0;
    std::uint32_t block_bytes = 0;
};

constexpr ggml_block_layout ggml_layout(std::uint32_t type) noexcept {
    switch (type) {
        case ggml_type::f32: return {1, 4};
        case ggml_type::f16:
        case ggml_type::bf16: return {1, 2};
        case ggml_type::q4_0: return {32, 2 + 16};
        case ggml_type::q4_1: return {32, 2 + 2 + 16};
        case ggml_type::q5_0: return {32, 2 + 4 + 16};
        case ggml_type::q5_1: return {32, 2 + 2 + 4 + 16};
        case ggml_type::q8_0: return {32, 2 + 32};
        case ggml_type::q2_k: return {256, 16 + 64 + 2 + 2};
        case ggml_type::q3_k: return {256, 32 + 64 + 12 + 2};
        case ggml_type::q4_k: return {256, 2 + 2 + 12 + 128};
        case ggml_type::q5_k: return {256, 2 + 2 + 12 + 32 + 128};
        case ggml_type::q6_k: return {256, 128 + 64 + 16 + 2};
        default: return {};
    }
}

constexpr bool ggml_is_block_quantized(std::uint32_t type) noexcept { return ggml_layout(type).block_elements > 1; }

// The dtype of an unquantized type (f32, f16, bf16).
constexpr dtype ggml_plain_dtype(std::uint32_t type) noexcept {
    return type == ggml_type::f16 ? dtype::f16 : type == ggml_type::bf16 ? dtype::bf16 : dtype::f32;
}

namespace detail {

inline float f16_at(const std::byte* p) noexcept {
    std::uint16_t bits = 0;
    std::memcpy(&bits, p, 2);
    return rwkv::f16::from_bits(bits).to_float();
}

inline unsigned byte_at(const std::byte* p, std::size_t i) noexcept { return std::to_integer<unsigned>(p[i]); }

// One block of 32 weights of a quantized type into out[0..32).
inline void dequantize_block(std::uint32_t type, const std::byte* block, float* out) noexcept {
    const float d = f16_at(block);
    switch (type) {
        case ggml_type::q8_0:
            for (std::size_t j = 0; j < 32; ++j)
                out[j] = d * static_cast<float>(static_cast<std::int8_t>(byte_at(block + 2, j)));
            return;
        case ggml_type::q4_0:
            for (std::size_t j = 0; j < 16; ++j) {
                const unsigned b = byte_at(block + 2, j);
                out[j] = d * static_cast<float>(static_cast<int>(b & 15u) - 8);
                out[j + 16] = d * static_cast<float>(static_cast<int>(b >> 4) - 8);
            }
            return;
        case ggml_type::q4_1: {
            const float m = f16_at(block + 2);
            for (std::size_t j = 0; j < 16; ++j) {
                const unsigned b = byte_at(block + 4, j);
                out[j] = d * static_cast<float>(b & 15u) + m;
                out[j + 16] = d * static_cast<float>(b >> 4) + m;
            }
            return;
        }
        case ggml_type::q5_0:
        case ggml_type::q5_1: {
            const bool has_min = type == ggml_type::q5_1;
            const float m = has_min ? f16_at(block + 2) : 0.0f;
            const std::byte* high = block + (has_min ? 4 : 2);
            std::uint32_t high_bits = 0;
            for (std::size_t i = 0; i < 4; ++i) high_bits |= static_cast<std::uint32_t>(byte_at(high, i)) << (8 * i);
            const std::byte* low = high + 4;
            const int bias = has_min ? 0 : 16;
            for (std::size_t j = 0; j < 16; ++j) {
                const unsigned b = byte_at(low, j);
                const unsigned q0 = (b & 15u) | (((high_bits >> j) & 1u) << 4);
                const unsigned q1 = (b >> 4) | (((high_bits >> (j + 16)) & 1u) << 4);
                out[j] = d * static_cast<float>(static_cast<int>(q0) - bias) + m;
                out[j + 16] = d * static_cast<float>(static_cast<int>(q1) - bias) + m;
            }
            return;
        }
        default: return;
    }
}

// The 6-bit scale and min of sub-block i (0..7) of a Q4_K/Q5_K super-block, from its 12 bytes b.
inline void k4_scale_min(const std::byte* b, std::size_t i, float& scale, float& min) noexcept {
    unsigned sc = 0, m = 0;
    if (i < 4) {
        sc = byte_at(b, i) & 63u;
        m = byte_at(b, i + 4) & 63u;
    } else {
        sc = (byte_at(b, i + 4) & 15u) | ((byte_at(b, i - 4) >> 6) << 4);
        m = (byte_at(b, i + 4) >> 4) | ((byte_at(b, i) >> 6) << 4);
    }
    scale = static_cast<float>(sc);
    min = static_cast<float>(m);
}

// One 256-weight super-block of a K-quant into out[0..256).
inline void dequantize_k_block(std::uint32_t type, const std::byte* block, float* out) noexcept {
    switch (type) {
        case ggml_type::q2_k: {
            // 128 weights per 32 bytes of qs: byte l holds weights l, l + 32, l + 64, l + 96 (2 bits
            // each, lowest first); sub-block i covers 16 consecutive weights.
            const std::byte* scales = block;
            const std::byte* qs = block + 16;
            const float d = f16_at(block + 80), dmin = f16_at(block + 82);
            for (std::size_t half = 0; half < 2; ++half)
                for (std::size_t shift = 0; shift < 4; ++shift)
                    for (std::size_t part = 0; part < 2; ++part) {
                        const std::size_t i = half * 8 + shift * 2 + part;  // sub-block
                        const unsigned sc = byte_at(scales, i);
                        const float dl = d * static_cast<float>(sc & 15u), ml = dmin * static_cast<float>(sc >> 4);
                        for (std::size_t l = 0; l < 16; ++l) {
                            const unsigned q = (byte_at(qs, half * 32 + part * 16 + l) >> (2 * shift)) & 3u;
                            out[i * 16 + l] = dl * static_cast<float>(q) - ml;
                        }
                    }
            return;
        }
        case ggml_type::q3_k: {
            // As Q2_K for the low 2 bits; the third bit of weight k (0..255) is bit k / 32 of hmask[k % 32].
            const std::byte* hmask = block;
            const std::byte* qs = block + 32;
            const std::byte* sb = block + 96;
            const float d = f16_at(block + 108);
            for (std::size_t half = 0; half < 2; ++half)
                for (std::size_t shift = 0; shift < 4; ++shift)
                    for (std::size_t part = 0; part < 2; ++part) {
                        const std::size_t i = half * 8 + shift * 2 + part;
                        const unsigned low = i < 8 ? byte_at(sb, i) & 15u : byte_at(sb, i - 8) >> 4;
                        const unsigned high = (byte_at(sb, 8 + i % 4) >> (2 * (i / 4))) & 3u;
                        const float dl = d * static_cast<float>(static_cast<int>(low | high << 4) - 32);
                        const std::size_t hbit = half * 4 + shift;
                        for (std::size_t l = 0; l < 16; ++l) {
                            const std::size_t at = part * 16 + l;
                            const int q = static_cast<int>((byte_at(qs, half * 32 + at) >> (2 * shift)) & 3u) -
                                          (((byte_at(hmask, at) >> hbit) & 1u) ? 0 : 4);
                            out[i * 16 + l] = dl * static_cast<float>(q);
                        }
                    }
            return;
        }
        case ggml_type::q4_k:
        case ggml_type::q5_k: {
            // Each 64 weights use 32 bytes of qs: weight l from the low nibble of byte l, weight
            // 32 + l from its high nibble. Q5_K: the fifth bit of weight 64·g + 32·h + l is bit 2·g + h
            // of qh[l].
            const bool five = type == ggml_type::q5_k;
            const float d = f16_at(block), dmin = f16_at(block + 2);
            const std::byte* sb = block + 4;
            const std::byte* qh = block + 16;
            const std::byte* qs = block + (five ? 48 : 16);
            for (std::size_t g = 0; g < 4; ++g)
                for (std::size_t h = 0; h < 2; ++h) {
                    float sc = 0, m = 0;
                    k4_scale_min(sb, 2 * g + h, sc, m);
                    const float dl = d * sc, ml = dmin * m;
                    for (std::size_t l = 0; l < 32; ++l) {
                        unsigned q = (byte_at(qs, g * 32 + l) >> (4 * h)) & 15u;
                        if (five) q |= ((byte_at(qh, l) >> (2 * g + h)) & 1u) << 4;
                        out[g * 64 + h * 32 + l] = dl * static_cast<float>(q) - ml;
                    }
                }
            return;
        }
        case ggml_type::q6_k: {
            // Each 128 weights use 64 bytes of ql and 32 of qh: weight 32·k + l (k 0..3, l 0..31) has
            // its low nibble in ql[l + 32·(k & 1)] (low nibble for k < 2, high for k ≥ 2) and its two
            // high bits at bits 2·k of qh[l]; sub-block scales are int8, one per 16 weights.
            const std::byte* ql = block;
            const std::byte* qh = block + 128;
            const std::byte* scales = block + 192;
            const float d = f16_at(block + 208);
            for (std::size_t half = 0; half < 2; ++half)
                for (std::size_t k = 0; k < 4; ++k)
                    for (std::size_t l = 0; l < 32; ++l) {
                        const std::size_t w = half * 128 + k * 32 + l;
                        const unsigned low = (byte_at(ql, half * 64 + l + 32 * (k & 1)) >> (4 * (k >> 1))) & 15u;
                        const unsigned high = (byte_at(qh, half * 32 + l) >> (2 * k)) & 3u;
                        const int q = static_cast<int>(low | high << 4) - 32;
                        const auto sc = static_cast<std::int8_t>(byte_at(scales, w / 16));
                        out[w] = d * static_cast<float>(sc) * static_cast<float>(q);
                    }
            return;
        }
        default: return;
    }
}

}  // namespace detail

// `count` elements of a type we read (ggml_layout(type).block_elements != 0; count a multiple of
// the block size) from `src` into `out`, exactly as described above.
inline void ggml_to_f32(std::uint32_t type, const std::byte* src, std::size_t count, float* out) noexcept {
    switch (type) {
        case ggml_type::f32: std::memcpy(out, src, count * 4); return;
        case ggml_type::f16:
            for (std::size_t i = 0; i < count; ++i) out[i] = detail::f16_at(src + 2 * i);
            return;
        case ggml_type::bf16:
            for (std::size_t i = 0; i < count; ++i) {
                std::uint16_t bits = 0;
                std::memcpy(&bits, src + 2 * i, 2);
                out[i] = rwkv::bf16::from_bits(bits).to_float();
            }
            return;
        default: {
            const auto layout = ggml_layout(type);
            const std::size_t n = layout.block_elements;
            for (std::size_t b = 0; b < count / n; ++b) {
                if (n == 256) detail::dequantize_k_block(type, src + b * layout.block_bytes, out + b * n);
                else detail::dequantize_block(type, src + b * layout.block_bytes, out + b * n);
            }
        }
    }
}

}  // namespace rwkv::io
