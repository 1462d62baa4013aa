// rwkv/core/dtype.hpp — element types of weights and activations.
//
// f32 is the compute type everywhere. bf16 and f16 are storage types: converted to f32 on load into a
// register, never used for arithmetic. Conversions are exact (bf16→f32, f16→f32) or round to nearest
// even (f32→bf16, f32→f16), as torch's .to(dtype) does.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rwkv {

static_assert(std::endian::native == std::endian::little,
              "rwkv reads little-endian checkpoints in place; big-endian hosts are not supported");

// i8 and u8 are raw bytes: the codes of block-quantized matrices (core/quant.hpp), which a tensor
// file stores next to their scales (io/quantized_tensors.hpp). They are never weights on their own.
enum class dtype : std::uint8_t { f32, bf16, f16, i8, u8 };

constexpr std::size_t dtype_size(dtype t) noexcept {
    switch (t) {
        case dtype::f32: return 4;
        case dtype::bf16:
        case dtype::f16: return 2;
        case dtype::i8:
        case dtype::u8: return 1;
    }
    return 1;
}

constexpr std::string_view dtype_name(dtype t) noexcept {
    switch (t) {
        case dtype::f32: return "f32";
        case dtype::bf16: return "bf16";
        case dtype::f16: return "f16";
        case dtype::i8: return "i8";
        case dtype::u8: return "u8";
    }
    return "?";
}

// bfloat16: the upper 16 bits of an IEEE binary32.
struct bf16 {
    std::uint16_t bits = 0;

    static constexpr bf16 from_bits(std::uint16_t b) noexcept { return bf16{b}; }

    // Round to nearest even; NaN stays a (quiet) NaN.
    static constexpr bf16 from_float(float f) noexcept {
        std::uint32_t u = std::bit_cast<std::uint32_t>(f);
        if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((u >> 16) | 0x40u)};
        u += 0x7fffu + ((u >> 16) & 1u);
        return bf16{static_cast<std::uint16_t>(u >> 16)};
    }

    constexpr float to_float() const noexcept {
        return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
    }
};

// IEEE binary16.
struct f16 {
    std::uint16_t bits = 0;

    static constexpr f16 from_bits(std::uint16_t b) noexcept { return f16{b}; }

    constexpr float to_float() const noexcept {
        const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
        const std::uint32_t exp = (bits >> 10) & 0x1fu;
        std::uint32_t mant = bits & 0x3ffu;
        if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // Inf/NaN
        if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
        if (mant == 0) return std::bit_cast<float>(sign);  // ±0
        // Subnormal: normalise the mantissa.
        std::uint32_t e = 113;
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            --e;
        }
        return std::bit_cast<float>(sign | (e << 23) | ((mant & 0x3ffu) << 13));
    }

    // Round to nearest even, with overflow to ±Inf and gradual underflow.
    static constexpr f16 from_float(float f) noexcept {
        const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
        const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
        const std::uint32_t a = u & 0x7fffffffu;
        if (a > 0x7f800000u) return f16{static_cast<std::uint16_t>(sign | 0x7e00u)};  // NaN
        if (a >= 0x477ff000u) return f16{static_cast<std::uint16_t>(sign | 0x7c00u)};  // ≥ 65520 → Inf
        if (a < 0x38800000u) {  // below the smallest normal f16 (2^-14): subnormal or zero
            if (a < 0x33000000u) return f16{sign};  // < 2^-25 rounds to 0
            const std::uint32_t exp = a >> 23;
            const std::uint32_t mant = (a & 0x7fffffu) | 0x800000u;
            // value = mant · 2^(exp−150) and the f16 subnormal unit is 2^−24, so q = mant >> (126 − exp).
            const std::uint32_t rshift = 126u - exp;
            std::uint32_t q = mant >> rshift;
            const std::uint32_t rem = mant & ((1u << rshift) - 1u);
            const std::uint32_t half = 1u << (rshift - 1u);
            if (rem > half || (rem == half && (q & 1u))) ++q;
            return f16{static_cast<std::uint16_t>(sign | q)};
        }
        std::uint32_t r = a - 0x38000000u;  // rebias exponent 127 → 15
        r += 0xfffu + ((r >> 13) & 1u);
        return f16{static_cast<std::uint16_t>(sign | (r >> 13))};
    }
};

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr dtype value = dtype::f32; };
template <> struct dtype_of<bf16> { static constexpr dtype value = dtype::bf16; };
template <> struct dtype_of<f16> { static constexpr dtype value = dtype::f16; };

// Exact widening of any storage type to the compute type.
constexpr float to_f32(float x) noexcept { return x; }
constexpr float to_f32(bf16 x) noexcept { return x.to_float(); }
constexpr float to_f32(f16 x) noexcept { return x.to_float(); }

template <class T> constexpr T from_f32(float x) noexcept;
template <> constexpr float from_f32<float>(float x) noexcept { return x; }
template <> constexpr bf16 from_f32<bf16>(float x) noexcept { return bf16::from_float(x); }
template <> constexpr f16 from_f32<f16>(float x) noexcept { return f16::from_float(x); }

}  // namespace rwkv
