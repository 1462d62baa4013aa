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
            for (std::size_t b = 0; b < count / 32; ++b)
                detail::dequantize_block(type, src + b * layout.block_bytes, out + b * 32);
        }
    }
}

}  // namespace rwkv::io
