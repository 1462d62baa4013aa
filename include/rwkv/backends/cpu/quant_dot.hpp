// rwkv/backends/cpu/quant_dot.hpp — block-quantized W·x with integer dot products, per ISA.
//
// Included by simd_kernels.hpp, so it is compiled once per ISA (src/cpu_kernels_isa.cpp) and all of
// it lives in that ISA's namespace: nothing here may call an inline function outside it that could be
// emitted with these ISA flags (docs/contracts.md, toolchain traps).
//
// Semantics (the same as the portable table and the reference backend, core/quant.hpp): each
// activation row x[t, 0..K) is quantized in blocks of 32 like quantize_row<int8_block> (d = max|x| /
// 127, codes nearbyint(x / d) in [−127, 127], a partial last block padded with zero codes), then
//   y[t, o] = Σ_b (s_w[o, b] · d_x[t, b]) · (Σ_{j in block b} c_w · c_x),
// the inner block sums exact in int32, the outer sum in f32 (one fixed order per output element,
// whatever the tile or thread, so results are bitwise the same for any thread count).
//
// Paths:
//   AVX-512 with VNNI  `vpdpbusd` (u8 × s8 → int32): int8 weights flipped to unsigned (w ^ 0x80 =
//                      w + 128) with −128·Σ x folded into the accumulator; int4 nibbles are already
//                      code + 8: −8·Σ x. Chosen on first use when the CPU has AVX512_VNNI
//                      (RWKV_CPU_VNNI=0 forces the path below, for tests).
//   AVX-512 F/BW       `vpmaddubsw` + `vpmaddwd`: int8 as |x| (u8) × sign(x)·w (s8), int4 as nibble ×
//                      x minus 8·x, both in int16 (no saturation: see dot_bw below).
//   AVX2               the same per 32-weight block with `vpsignb`.
//   SSE2               plain integer loops.
// Per lane: the int32 lane sum is converted to f32 and FMA'd with s_w · d_x of the block it belongs
// to; the 16 (8) lanes of an accumulator are summed once per output at the end.
#pragma once

#ifndef RWKV_CPU_ISA_NAMESPACE
#error "rwkv/backends/cpu/quant_dot.hpp is compiled per ISA by src/cpu_kernels_isa.cpp"
#endif

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "rwkv/backends/cpu/kernel_table.hpp"

// g++ 12 reports its own `__m512 __Y = __Y` placeholders in <avx512fintrin.h> (the undefined upper
// lanes of shuffles and extracts) as -Wuninitialized once inlined into a target("avx512vnni")
// function: a false positive, silenced for this header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace rwkv::cpu::RWKV_CPU_ISA_NAMESPACE {

namespace qdot {

inline constexpr std::size_t B = 32;  // weights per block

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define RWKV_QDOT_AVX512 1
#elif defined(__AVX2__)
#define RWKV_QDOT_AVX2 1
#endif

// ---- scratch for the quantized activations ---------------------------------------------------------
// A fixed stack buffer covers a decoded token (one row of K ≤ ~29000); larger calls (prefill) use a
// per-thread heap buffer that only grows, so decoding allocates nothing.
inline constexpr std::size_t stack_scratch_bytes = 32768;

struct heap_scratch {
    void* p = nullptr;
    std::size_t capacity = 0;
    heap_scratch() = default;
    heap_scratch(const heap_scratch&) = delete;
    heap_scratch& operator=(const heap_scratch&) = delete;
    ~heap_scratch() {
        if (p) ::operator delete(p, std::align_val_t{64});
    }
    std::uint8_t* get(std::size_t bytes) {
        if (bytes > capacity) {
            if (p) ::operator delete(p, std::align_val_t{64});
            p = nullptr;
            capacity = 0;
            p = ::operator new(bytes, std::align_val_t{64});
            capacity = bytes;
        }
        return static_cast<std::uint8_t*>(p);
    }
};

inline std::uint8_t* thread_scratch(std::size_t bytes) {
    thread_local heap_scratch s;
    return s.get(bytes);
}

// Quantized activation rows: per token, the codes (nbp · 32 bytes, zero past the last block) then
// the scales d_x (nbp floats, zero past the last block); nbp = blocks rounded up to a multiple of 8.
struct acts {
    const std::uint8_t* base = nullptr;
    std::size_t stride = 0;     // bytes between tokens
    std::size_t dx_offset = 0;  // bytes from a token's codes to its scales
    std::size_t nb = 0;         // blocks of the weight rows
    const std::int8_t* codes(std::size_t t) const noexcept {
        return reinterpret_cast<const std::int8_t*>(base + t * stride);
    }
    const float* dx(std::size_t t) const noexcept { return reinterpret_cast<const float*>(base + t * stride + dx_offset); }
};

inline constexpr std::size_t padded_blocks(std::size_t nb) noexcept { return (nb + 7) / 8 * 8; }
inline constexpr std::size_t token_bytes(std::size_t nbp) noexcept { return (nbp * B + nbp * sizeof(float) + 63) / 64 * 64; }

// ---- activation quantizer: bitwise what quantize_row<int8_block> does ---------------------------------
// `interleave` (the AVX-512 int4 layout): within each pair of blocks (2c, 2c + 1) the 64 code bytes
// are [2c: 0–15 | 2c+1: 0–15 | 2c: 16–31 | 2c+1: 16–31], matching the nibbles of 32 weight bytes
// broadcast to both halves of a register, low nibbles in the low half.
inline std::size_t code_offset(std::size_t b, std::size_t j, bool interleave) noexcept {
    if (!interleave) return b * B + j;
    return b / 2 * 64 + (j < 16 ? 0 : 32) + (b % 2) * 16 + j % 16;
}

inline void quantize_scalar(const float* x, std::size_t K, std::size_t nbp, std::int8_t* codes, float* dx,
                            bool interleave) noexcept {
    const std::size_t nb = (K + B - 1) / B;
    std::memset(codes, 0, nbp * B);
    for (std::size_t b = 0; b < nbp; ++b) dx[b] = 0.0f;
    for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t k0 = b * B, n = K - k0 < B ? K - k0 : B;
        float amax = 0.0f;
        for (std::size_t j = 0; j < n; ++j)
            if (std::abs(x[k0 + j]) > amax) amax = std::abs(x[k0 + j]);
        const float scale = amax / 127.0f;
        const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
        dx[b] = scale;
        for (std::size_t j = 0; j < n; ++j) {
            float q = std::nearbyint(x[k0 + j] * inv);
            q = q < -127.0f ? -127.0f : (q > 127.0f ? 127.0f : q);
            codes[code_offset(b, j, interleave)] = static_cast<std::int8_t>(q);
        }
    }
}

#if defined(RWKV_QDOT_AVX512)
// Sum and max of the 16 lanes in a fixed order (g++ 12's _mm512_reduce_* trip -Wuninitialized in
// target("avx512vnni") functions).
inline __m128 fold16(__m512 v, bool max) noexcept {
    const __m512 a = max ? _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e)) : _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
    const __m512 b = max ? _mm512_max_ps(a, _mm512_shuffle_f32x4(a, a, 0xb1)) : _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0xb1));
    return _mm512_castps512_ps128(b);
}
inline float sum16(__m512 v) noexcept {
    __m128 s = fold16(v, false);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
inline float max16(__m512 v) noexcept {
    __m128 s = fold16(v, true);
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps(s, s, 1)));
}

// cvtps_epi32 rounds with MXCSR (nearest even by default), as nearbyint does.
inline void quantize_row_simd(const float* x, std::size_t K, std::size_t nbp, std::int8_t* codes, float* dx,
                              bool interleave) noexcept {
    const std::size_t nb = (K + B - 1) / B;
    const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t k0 = b * B, n = K - k0 < B ? K - k0 : B;
        const auto m0 = static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u);
        const auto m1 = static_cast<__mmask16>(n >= 32 ? 0xffffu : n > 16 ? (1u << (n - 16)) - 1u : 0u);
        const __m512 v0 = _mm512_maskz_loadu_ps(m0, x + k0), v1 = _mm512_maskz_loadu_ps(m1, x + k0 + 16);
        const float amax = max16(_mm512_max_ps(_mm512_and_ps(v0, abs_mask), _mm512_and_ps(v1, abs_mask)));
        const float scale = amax / 127.0f;
        const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
        dx[b] = scale;
        const __m512 vi = _mm512_set1_ps(inv);
        const __m512i q0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vi)), lo), hi);
        const __m512i q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vi)), lo), hi);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + code_offset(b, 0, interleave)), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + code_offset(b, 16, interleave)), _mm512_cvtepi32_epi8(q1));
    }
    // Zero codes past the last block (masked-off lanes above are already zero) and zero scales.
    if (nb % 2 == 1) {  // the other half of the last pair
        for (std::size_t j = 0; j < B; j += 16)
            _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + code_offset(nb, j, interleave)), _mm_setzero_si128());
    }
    for (std::size_t b = (nb + 1) / 2 * 2; b < nbp; b += 2)
        _mm512_storeu_si512(codes + b * B, _mm512_setzero_si512());
    for (std::size_t b = nb; b < nbp; ++b) dx[b] = 0.0f;
}
#elif defined(RWKV_QDOT_AVX2)
inline void quantize_row_simd(const float* x, std::size_t K, std::size_t nbp, std::int8_t* codes, float* dx,
                              bool /*interleave: not used by AVX2*/) noexcept {
    const std::size_t nb = (K + B - 1) / B;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t k0 = b * B, n = K - k0 < B ? K - k0 : B;
        alignas(32) float tail[B];
        const float* src = x + k0;
        if (n < B) {
            for (std::size_t j = 0; j < B; ++j) tail[j] = j < n ? src[j] : 0.0f;
            src = tail;
        }
        __m256 v[4];
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(src + 8 * i);
            m = _mm256_max_ps(m, _mm256_and_ps(v[i], abs_mask));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        const float amax = _mm_cvtss_f32(m4);
        const float scale = amax / 127.0f;
        const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
        dx[b] = scale;
        const __m256 vi = _mm256_set1_ps(inv);
        __m256i q[4];
        for (int i = 0; i < 4; ++i)
            q[i] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[i], vi)), lo), hi);
        const __m256i p16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + k0), _mm256_permutevar8x32_epi32(p16, order));
    }
    std::memset(codes + nb * B, 0, (nbp - nb) * B);
    for (std::size_t b = nb; b < nbp; ++b) dx[b] = 0.0f;
}
#endif

// Quantizes tokens [0, tc) of x into `buf` (token_bytes(nbp) each).
inline acts quantize_acts(const float* x, std::size_t ldx, std::size_t tc, std::size_t K, bool interleave,
                          std::uint8_t* buf) noexcept {
    const std::size_t nb = (K + B - 1) / B, nbp = padded_blocks(nb);
    acts a{buf, token_bytes(nbp), nbp * B, nb};
    for (std::size_t t = 0; t < tc; ++t) {
        auto* codes = reinterpret_cast<std::int8_t*>(buf + t * a.stride);
        auto* dx = reinterpret_cast<float*>(buf + t * a.stride + a.dx_offset);
#if defined(RWKV_QDOT_AVX512) || defined(RWKV_QDOT_AVX2)
        quantize_row_simd(x + t * ldx, K, nbp, codes, dx, interleave);
#else
        quantize_scalar(x + t * ldx, K, nbp, codes, dx, interleave);
#endif
    }
    return a;
}

// Software prefetch: each of the tile's R row streams is read `prefetch_bytes` ahead (continuing into
// the same row of the tiles below once past the row's end), and the scale rows of a tile as its codes
// start to be prefetched. Without it the kernel streams ~20 GB/s from DRAM here, with it ~35.
inline constexpr std::size_t prefetch_bytes = 2048;

#define RWKV_QDOT_UNROLL _Pragma("GCC unroll 16")

// ---- the driver: quantize up to 64 tokens at a time, then pass row blocks over token tiles ---------
// Kernel::tile<Bits, R, TT>(w, o, a, t, y, ldy) computes rows [o, o + R) for tokens [t, t + TT) of `a`,
// writing y[(t + i) · ldy + r] for the output at row o + r (y points at row o, token 0).
template <std::size_t Bits, class Kernel>
void gemm_driver(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                 std::size_t o0, std::size_t o1, std::size_t K) {
    if (T == 0 || o0 >= o1) return;
    constexpr std::size_t token_chunk = 64, TT = 4, R1 = Kernel::rows_decode, R4 = Kernel::rows_prefill;
    constexpr std::size_t row_block = 16;
    const std::size_t nbp = padded_blocks((K + B - 1) / B), per_token = token_bytes(nbp);
    const std::size_t tc_max = T < token_chunk ? T : token_chunk;
    alignas(64) std::uint8_t local[stack_scratch_bytes];
    std::uint8_t* buf = tc_max * per_token <= sizeof local ? local : thread_scratch(tc_max * per_token);
    for (std::size_t t0 = 0; t0 < T; t0 += token_chunk) {
        const std::size_t tc = T - t0 < token_chunk ? T - t0 : token_chunk;
        const acts a = quantize_acts(x + t0 * ldx, ldx, tc, K, Kernel::template interleave<Bits>, buf);
        float* yc = y + t0 * ldy;
        for (std::size_t ob = o0; ob < o1; ob += row_block) {
            const std::size_t oe = o1 - ob < row_block ? o1 : ob + row_block;
            std::size_t t = 0;
            for (; t + TT <= tc; t += TT) {
                std::size_t o = ob;
                for (; o + R4 <= oe; o += R4) Kernel::template tile<Bits, R4, TT>(w, o, a, t, yc + t * ldy + o, ldy);
                for (; o < oe; ++o) Kernel::template tile<Bits, 1, TT>(w, o, a, t, yc + t * ldy + o, ldy);
            }
            for (; t < tc; ++t) {
                std::size_t o = ob;
                for (; o + R1 <= oe; o += R1) Kernel::template tile<Bits, R1, 1>(w, o, a, t, yc + t * ldy + o, ldy);
                for (; o < oe; ++o) Kernel::template tile<Bits, 1, 1>(w, o, a, t, yc + t * ldy + o, ldy);
            }
        }
    }
}

// ---- plain integer loops (SSE2; also the fallback shape of every path) -----------------------------
struct scalar_kernel {
    static constexpr std::size_t rows_decode = 1, rows_prefill = 1;
    template <std::size_t Bits>
    static constexpr bool interleave = false;

    template <std::size_t Bits, std::size_t R, std::size_t TT>
    static void tile(const quant_rows& w, std::size_t o, const acts& a, std::size_t t0, float* y, std::size_t ldy) {
        for (std::size_t r = 0; r < R; ++r) {
            const std::int8_t* row = w.codes + (o + r) * w.code_stride;
            const float* sw = w.scales + (o + r) * w.scale_stride;
            for (std::size_t t = 0; t < TT; ++t) {
                const std::int8_t* xc = a.codes(t0 + t);
                const float* dx = a.dx(t0 + t);
                float acc = 0.0f;
                for (std::size_t b = 0; b < a.nb; ++b) {
                    std::int32_t isum = 0;
                    const std::int8_t* xb = xc + b * B;
                    if constexpr (Bits == 8) {
                        for (std::size_t j = 0; j < B; ++j) isum += row[b * B + j] * xb[j];
                    } else {
                        const auto* blk = reinterpret_cast<const std::uint8_t*>(row) + b * (B / 2);
                        for (std::size_t j = 0; j < B / 2; ++j)
                            isum += ((blk[j] & 15) - 8) * xb[j] + ((blk[j] >> 4) - 8) * xb[j + B / 2];
                    }
                    acc += (sw[b] * dx[b]) * static_cast<float>(isum);
                }
                y[t * ldy + r] = acc;
            }
        }
    }
};

#if defined(RWKV_QDOT_AVX512)
// ---- AVX-512 ---------------------------------------------------------------------------------------
// A register holds 64 weights: two blocks (a "chunk"). Scales are read 8 blocks (4 chunks) at a time;
// lane_index gives, per chunk of that group, the block (0–7) each int32 lane's 4 weights belong to.
template <std::size_t Bits>
inline __m512i lane_index(std::size_t chunk_in_group) noexcept {
    const __m512i base = Bits == 8 ? _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
                                   : _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
    return _mm512_add_epi32(base, _mm512_set1_epi32(static_cast<int>(2 * chunk_in_group)));
}

// The 64 weight codes of chunk c of a row as bytes: int8 as stored (the dot flips or signs them), int4
// as nibbles 0–15 in the interleaved order of code_offset.
template <std::size_t Bits>
inline __m512i load_chunk(const std::int8_t* row, std::size_t c) noexcept {
    if constexpr (Bits == 8) {
        return _mm512_loadu_si512(row + c * 64);
    } else {
        const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c * 32)));
        return _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4)), _mm512_set1_epi8(0x0f));
    }
}

// An odd last block b on its own (256 bits, weights in natural order): its weight codes, and the
// activation codes of that block (gathered back from the interleaved layout for int4).
template <std::size_t Bits>
inline __m256i load_tail_weights(const std::int8_t* row, std::size_t b) noexcept {
    if constexpr (Bits == 8) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 32));
    } else {
        const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + b * 16)));
        return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
    }
}
template <std::size_t Bits>
inline __m256i load_tail_codes(const std::int8_t* codes, std::size_t b) noexcept {
    if constexpr (Bits == 8) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + b * 32));
    } else {  // b is even within its pair: weights 0–15 at +0, 16–31 at +32
        const std::int8_t* p = codes + b / 2 * 64;
        return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32)), 1);
    }
}

inline __m256 load_scales8(const float* s, std::size_t b0, std::size_t nb) noexcept {
    const std::size_t n = nb - b0;
    return n >= 8 ? _mm256_loadu_ps(s + b0) : _mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << n) - 1u), s + b0);
}

// The tile body shared by the two dot-product forms (a macro, because the VNNI form must be compiled
// inside a target("avx512vnni") function). Dot::prep(x) computes, once per token and chunk, what the
// dot needs from the activation codes; Dot::dot(prep, w, x) the 16 int32 lane sums; *256 the same for
// an odd last block. Per output the operations do not depend on R or TT: with TT = 1 the scale
// product s_w · d_x is taken on the 8 scales before the lane permute, with TT > 1 after it, the same
// f32 product either way.
#define RWKV_QDOT_TILE_BODY(Dot)                                                                              \
    constexpr std::size_t chunk_bytes = Bits * 8;                                                            \
    const std::size_t nb = a.nb, nfull = nb / 2, code_stride = w.code_stride, scale_stride = w.scale_stride; \
    const std::size_t row_bytes = nb * Bits * 4;                                                             \
    __m512 acc[R][TT];                                                                                       \
    const std::int8_t* wr[R];                                                                                \
    const float* sr[R];                                                                                      \
    RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) {                                                   \
        wr[r] = w.codes + (o + r) * code_stride;                                                             \
        sr[r] = w.scales + (o + r) * scale_stride;                                                           \
        RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();               \
    }                                                                                                        \
    std::size_t pf_rows = prefetch_bytes / row_bytes * R, pf_off = prefetch_bytes % row_bytes;               \
    for (std::size_t b0 = 0; b0 < 2 * nfull; b0 += 8) {                                                      \
        __m256 sw[R], dx[TT];                                                                                \
        RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) sw[r] = load_scales8(sr[r], b0, nb);            \
        RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) dx[t] = _mm256_loadu_ps(a.dx(t0 + t) + b0);    \
        if constexpr (TT == 1)                                                                               \
            RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) sw[r] = _mm256_mul_ps(sw[r], dx[0]);        \
        const std::size_t c0 = b0 / 2, c1 = nfull < c0 + 4 ? nfull : c0 + 4;                                 \
        for (std::size_t c = c0; c < c1; ++c) {                                                              \
            const __m512i idx = lane_index<Bits>(c - c0);                                                    \
            __m512i xv[TT], pv[TT];                                                                          \
            __m512 dxv[TT];                                                                                  \
            RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) {                                          \
                xv[t] = _mm512_loadu_si512(a.codes(t0 + t) + c * 64);                                        \
                pv[t] = Dot::template prep<Bits>(xv[t]);                                                     \
                dxv[t] = _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(dx[t]));                          \
            }                                                                                                \
            RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) {                                           \
                _mm_prefetch(reinterpret_cast<const char*>(wr[r] + pf_rows * code_stride) + pf_off, _MM_HINT_T0); \
                const __m512i wv = Dot::template weights<Bits>(load_chunk<Bits>(wr[r], c));                  \
                const __m512 s = _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(sw[r]));                  \
                RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) {                                      \
                    const __m512 f = _mm512_cvtepi32_ps(Dot::template dot<Bits>(pv[t], wv, xv[t]));          \
                    acc[r][t] = _mm512_fmadd_ps(f, TT == 1 ? s : _mm512_mul_ps(s, dxv[t]), acc[r][t]);       \
                }                                                                                            \
            }                                                                                                \
            pf_off += chunk_bytes;                                                                           \
            if (pf_off >= row_bytes) {                                                                       \
                pf_off -= row_bytes;                                                                         \
                pf_rows += R;                                                                                \
                RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r)                                         \
                    for (std::size_t i = 0; i < nb; i += 16)                                                 \
                        _mm_prefetch(reinterpret_cast<const char*>(sr[r] + pf_rows * scale_stride + i), _MM_HINT_T0); \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    if (nb % 2 == 1) { /* the odd last block, into lanes 0–7 */                                              \
        const std::size_t b = nb - 1;                                                                        \
        RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) {                                              \
            const __m256i xv = load_tail_codes<Bits>(a.codes(t0 + t), b), pv = Dot::template prep256<Bits>(xv); \
            RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) {                                           \
                const __m256i wv = Dot::template weights256<Bits>(load_tail_weights<Bits>(wr[r], b));        \
                const __m256 f = _mm256_cvtepi32_ps(Dot::template dot256<Bits>(pv, wv, xv));                 \
                const __m256 part = _mm256_mul_ps(f, _mm256_set1_ps(sr[r][b] * a.dx(t0 + t)[b]));            \
                acc[r][t] = _mm512_add_ps(acc[r][t], _mm512_insertf32x8(_mm512_setzero_ps(), part, 0));      \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r)                                                     \
        RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) y[t * ldy + r] = sum16(acc[r][t]);

// AVX-512 F/BW: maddubs (u8 × s8 → pairs summed in int16) then madd with ones (→ int32).
// int8: u8 = |x| ≤ 127, s8 = sign(x)·w with |w| ≤ 127: a pair is ≤ 2·127·127 = 32258 < 32767.
// int4: u8 = nibble ≤ 15, s8 = x: a pair ≤ 2·15·127 = 3810; minus the pair 8·(x0 + x1) (≤ 2032),
// i.e. Σ (nibble − 8)·x, at most 2·8·127 = 2032 in magnitude. No saturation in either.
struct dot_bw {
    template <std::size_t Bits>
    static __m512i prep(__m512i x) noexcept {
        if constexpr (Bits == 8) return _mm512_abs_epi8(x);
        else return _mm512_maddubs_epi16(_mm512_set1_epi8(8), x);
    }
    template <std::size_t Bits>
    static __m512i weights(__m512i w) noexcept {
        return w;
    }
    template <std::size_t Bits>
    static __m512i dot(__m512i p, __m512i w, __m512i x) noexcept {
        if constexpr (Bits == 8) {
            const __m512i ws = _mm512_mask_sub_epi8(w, _mm512_movepi8_mask(x), _mm512_setzero_si512(), w);
            return _mm512_madd_epi16(_mm512_maddubs_epi16(p, ws), _mm512_set1_epi16(1));
        } else {
            return _mm512_madd_epi16(_mm512_sub_epi16(_mm512_maddubs_epi16(w, x), p), _mm512_set1_epi16(1));
        }
    }
    template <std::size_t Bits>
    static __m256i prep256(__m256i x) noexcept {
        if constexpr (Bits == 8) return _mm256_abs_epi8(x);
        else return _mm256_maddubs_epi16(_mm256_set1_epi8(8), x);
    }
    template <std::size_t Bits>
    static __m256i weights256(__m256i w) noexcept {
        return w;
    }
    template <std::size_t Bits>
    static __m256i dot256(__m256i p, __m256i w, __m256i x) noexcept {
        if constexpr (Bits == 8)
            return _mm256_madd_epi16(_mm256_maddubs_epi16(p, _mm256_sign_epi8(w, x)), _mm256_set1_epi16(1));
        else return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(w, x), p), _mm256_set1_epi16(1));
    }
};

struct avx512_bw_kernel {
    static constexpr std::size_t rows_decode = 8, rows_prefill = 4;
    template <std::size_t Bits>
    static constexpr bool interleave = Bits == 4;
    template <std::size_t Bits, std::size_t R, std::size_t TT>
    static void tile(const quant_rows& w, std::size_t o, const acts& a, std::size_t t0, float* y, std::size_t ldy) {
        RWKV_QDOT_TILE_BODY(dot_bw)
    }
};

// AVX-512 VNNI: vpdpbusd adds the four u8 × s8 products of each int32 lane to the accumulator, which
// starts at −offset·(sum of the lane's four activation codes): offset 128 for int8 weights flipped to
// u8 (w ^ 0x80 = w + 128), 8 for int4 nibbles (code + 8). Lane sums stay far inside int32.
#define RWKV_QDOT_VNNI __attribute__((target("avx512vnni")))
struct dot_vnni {
    static constexpr char offset(std::size_t bits) noexcept { return static_cast<char>(bits == 8 ? -128 : 8); }
    template <std::size_t Bits>
    RWKV_QDOT_VNNI static __m512i prep(__m512i x) noexcept {
        const __m512i zero = _mm512_setzero_si512();
        return _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(offset(Bits)), x));
    }
    template <std::size_t Bits>
    RWKV_QDOT_VNNI static __m512i weights(__m512i w) noexcept {
        if constexpr (Bits == 8) return _mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(-128)));
        else return w;
    }
    template <std::size_t Bits>
    RWKV_QDOT_VNNI static __m512i dot(__m512i p, __m512i w, __m512i x) noexcept {
        return _mm512_dpbusd_epi32(p, w, x);
    }
    template <std::size_t Bits>
    RWKV_QDOT_VNNI static __m256i prep256(__m256i x) noexcept {
        const __m256i zero = _mm256_setzero_si256();
        return _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(offset(Bits)), x));
    }
    template <std::size_t Bits>
    RWKV_QDOT_VNNI static __m256i weights256(__m256i w) noexcept {
        if constexpr (Bits == 8) return _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(-128)));
        else return w;
    }
    template <std::size_t Bits>
    RWKV_QDOT_VNNI static __m256i dot256(__m256i p, __m256i w, __m256i x) noexcept {
        return _mm256_dpbusd_epi32(p, w, x);
    }
};

struct avx512_vnni_kernel {
    static constexpr std::size_t rows_decode = 8, rows_prefill = 4;
    template <std::size_t Bits>
    static constexpr bool interleave = Bits == 4;
    template <std::size_t Bits, std::size_t R, std::size_t TT>
    RWKV_QDOT_VNNI static void tile(const quant_rows& w, std::size_t o, const acts& a, std::size_t t0, float* y,
                                    std::size_t ldy) {
        RWKV_QDOT_TILE_BODY(dot_vnni)
    }
};
#undef RWKV_QDOT_TILE_BODY

// AVX512_VNNI (CPUID.(EAX=7, ECX=0):ECX bit 11); RWKV_CPU_VNNI=0 turns it off (to test the other path).
// Asked on the first call rather than when the table is built: table() must stay constant-initialized,
// since this TU's start-up code runs on every CPU, AVX-512 or not.
inline bool use_vnni() noexcept {
    static const bool yes = [] {
        if (const char* env = std::getenv("RWKV_CPU_VNNI"); env && env[0] == '0' && env[1] == '\0') return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512vnni") != 0;
    }();
    return yes;
}

template <std::size_t Bits>
void gemm_quant(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                std::size_t o0, std::size_t o1, std::size_t K) {
    if (use_vnni()) gemm_driver<Bits, avx512_vnni_kernel>(w, x, ldx, y, ldy, T, o0, o1, K);
    else gemm_driver<Bits, avx512_bw_kernel>(w, x, ldx, y, ldy, T, o0, o1, K);
}

#elif defined(RWKV_QDOT_AVX2)
// ---- AVX2: one 32-weight block per register ---------------------------------------------------------
// int8: u8 = |x|, s8 = sign(x)·w (vpsignb); int4: u8 = nibble, s8 = x, minus 8·x; no int16
// saturation (the bounds of the AVX-512 form above).
struct avx2_kernel {
    static constexpr std::size_t rows_decode = 4, rows_prefill = 2;
    template <std::size_t Bits>
    static constexpr bool interleave = false;

    template <std::size_t Bits>
    static __m256i load_block(const std::int8_t* row, std::size_t b) noexcept {
        if constexpr (Bits == 8) {
            return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * B));
        } else {  // 16 bytes → low nibbles (weights 0–15) in the low half, high nibbles in the high half
            const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + b * 16)));
            return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
        }
    }

    static float sum8(__m256 v) noexcept {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        return _mm_cvtss_f32(s);
    }

    template <std::size_t Bits, std::size_t R, std::size_t TT>
    static void tile(const quant_rows& w, std::size_t o, const acts& a, std::size_t t0, float* y, std::size_t ldy) {
        if constexpr (Bits == 8) tile8<R, TT>(w, o, a, t0, y, ldy);
        else tile_any<Bits, R, TT>(w, o, a, t0, y, ldy);
    }

    // int8, per block b of 32 and (row r, token t): s8 = one operand with the other's sign applied,
    // u8 = the other's magnitude, p = vpmaddubsw → 16 int16 pair sums, vpmaddwd(p, 1) → 8 int32 lanes of
    // 4 products each, then acc[r][t] += f32(lanes) · (s_w[r, b] · d_x[t, b]) by one FMA. The products,
    // and so every bit, are the same whichever operand carries the sign: one token (decode) takes
    // u8 = |x| (one vpabsb per block, shared by the R rows) and s8 = sign(x)·w; several tokens take
    // u8 = |w| (one vpabsb per row, shared by the TT tokens) and s8 = sign(w)·x. The products
    // s_w · d_x are formed 8 blocks at a time (one vmulps per (r, t)) into a small stack table that the
    // FMAs read by vbroadcastss: per (r, t, block) that leaves vpsignb, vpmaddubsw, vpmaddwd,
    // vcvtdq2ps and vfmadd231ps (docs/cpu-backend.md, "int8 dot").
    template <std::size_t R, std::size_t TT>
    static void tile8(const quant_rows& w, std::size_t o, const acts& a, std::size_t t0, float* y, std::size_t ldy) {
        const __m256i ones = _mm256_set1_epi16(1);
        __m256 acc[R][TT];
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
        const std::int8_t* wr[R];
        const float* sr[R];
        for (std::size_t r = 0; r < R; ++r) {
            wr[r] = w.codes + (o + r) * w.code_stride;
            sr[r] = w.scales + (o + r) * w.scale_stride;
        }
        const std::int8_t* xr[TT];
        const float* dr[TT];
        for (std::size_t t = 0; t < TT; ++t) {
            xr[t] = a.codes(t0 + t);
            dr[t] = a.dx(t0 + t);
        }
        const std::size_t row_bytes = a.nb * B;
        std::size_t pf_rows = prefetch_bytes / row_bytes * R, pf_off = prefetch_bytes % row_bytes;
        alignas(32) float scale[R][TT][8];
        for (std::size_t g = 0; g < a.nb; g += 8) {
            const std::size_t ng = a.nb - g < 8 ? a.nb - g : 8;
            for (std::size_t r = 0; r < R; ++r) {
                if (ng == 8) {
                    const __m256 sw = _mm256_loadu_ps(sr[r] + g);
                    for (std::size_t t = 0; t < TT; ++t) _mm256_store_ps(scale[r][t], _mm256_mul_ps(sw, _mm256_load_ps(dr[t] + g)));
                } else {
                    for (std::size_t t = 0; t < TT; ++t)
                        for (std::size_t j = 0; j < ng; ++j) scale[r][t][j] = sr[r][g + j] * dr[t][g + j];
                }
            }
            for (std::size_t j = 0; j < ng; ++j) {
                const std::size_t b = g + j;
                if constexpr (TT == 1) {
                    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[0] + b * B));
                    const __m256i ax = _mm256_abs_epi8(xv);
                    RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) {
                        if (pf_off % 64 < B)  // once per cache line
                            _mm_prefetch(reinterpret_cast<const char*>(wr[r] + pf_rows * w.code_stride) + pf_off, _MM_HINT_T0);
                        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[r] + b * B));
                        const __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv, xv));
                        const __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
                        acc[r][0] = _mm256_fmadd_ps(f, _mm256_broadcast_ss(&scale[r][0][j]), acc[r][0]);
                    }
                } else {
                    __m256i wv[R], aw[R];
                    RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) {
                        if (pf_off % 64 < B)
                            _mm_prefetch(reinterpret_cast<const char*>(wr[r] + pf_rows * w.code_stride) + pf_off, _MM_HINT_T0);
                        wv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[r] + b * B));
                        aw[r] = _mm256_abs_epi8(wv[r]);
                    }
                    RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) {
                        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[t] + b * B));
                        RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) {
                            const __m256i p = _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(xv, wv[r]));
                            const __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
                            acc[r][t] = _mm256_fmadd_ps(f, _mm256_broadcast_ss(&scale[r][t][j]), acc[r][t]);
                        }
                    }
                }
                pf_off += B;
                if (pf_off >= row_bytes) {
                    pf_off -= row_bytes;
                    pf_rows += R;
                    for (std::size_t r = 0; r < R; ++r)
                        for (std::size_t i = 0; i < a.nb; i += 16)
                            _mm_prefetch(reinterpret_cast<const char*>(sr[r] + pf_rows * w.scale_stride + i), _MM_HINT_T0);
                }
            }
        }
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t t = 0; t < TT; ++t) y[t * ldy + r] = sum8(acc[r][t]);
    }

    template <std::size_t Bits, std::size_t R, std::size_t TT>
    static void tile_any(const quant_rows& w, std::size_t o, const acts& a, std::size_t t0, float* y, std::size_t ldy) {
        const __m256i ones = _mm256_set1_epi16(1);
        __m256 acc[R][TT];
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
        const std::int8_t* wr[R];
        const float* sr[R];
        for (std::size_t r = 0; r < R; ++r) {
            wr[r] = w.codes + (o + r) * w.code_stride;
            sr[r] = w.scales + (o + r) * w.scale_stride;
        }
        const std::size_t row_bytes = a.nb * Bits * 4;
        std::size_t pf_rows = prefetch_bytes / row_bytes * R, pf_off = prefetch_bytes % row_bytes;
        for (std::size_t b = 0; b < a.nb; ++b) {
            __m256i xv[TT], pv[TT];
            float dx[TT];
            RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) {
                xv[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.codes(t0 + t) + b * B));
                dx[t] = a.dx(t0 + t)[b];
                if constexpr (Bits == 8) pv[t] = _mm256_abs_epi8(xv[t]);
                else pv[t] = _mm256_maddubs_epi16(_mm256_set1_epi8(8), xv[t]);
            }
            RWKV_QDOT_UNROLL for (std::size_t r = 0; r < R; ++r) {
                if (pf_off % 64 < Bits * 4)  // once per cache line
                    _mm_prefetch(reinterpret_cast<const char*>(wr[r] + pf_rows * w.code_stride) + pf_off, _MM_HINT_T0);
                const __m256i wv = load_block<Bits>(wr[r], b);
                const float sw = sr[r][b];
                RWKV_QDOT_UNROLL for (std::size_t t = 0; t < TT; ++t) {
                    __m256i p;
                    if constexpr (Bits == 8) p = _mm256_maddubs_epi16(pv[t], _mm256_sign_epi8(wv, xv[t]));
                    else p = _mm256_sub_epi16(_mm256_maddubs_epi16(wv, xv[t]), pv[t]);
                    const __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
                    acc[r][t] = _mm256_fmadd_ps(f, _mm256_set1_ps(sw * dx[t]), acc[r][t]);
                }
            }
            pf_off += Bits * 4;
            if (pf_off >= row_bytes) {
                pf_off -= row_bytes;
                pf_rows += R;
                for (std::size_t r = 0; r < R; ++r)
                    for (std::size_t i = 0; i < a.nb; i += 16)
                        _mm_prefetch(reinterpret_cast<const char*>(sr[r] + pf_rows * w.scale_stride + i), _MM_HINT_T0);
            }
        }
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t t = 0; t < TT; ++t) y[t * ldy + r] = sum8(acc[r][t]);
    }
};

template <std::size_t Bits>
void gemm_quant(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                std::size_t o0, std::size_t o1, std::size_t K) {
    gemm_driver<Bits, avx2_kernel>(w, x, ldx, y, ldy, T, o0, o1, K);
}

#else
template <std::size_t Bits>
void gemm_quant(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                std::size_t o0, std::size_t o1, std::size_t K) {
    gemm_driver<Bits, scalar_kernel>(w, x, ldx, y, ldy, T, o0, o1, K);
}
#endif

}  // namespace qdot

// The table's gemm_int8 / gemm_int4 entries.
template <std::size_t Bits>
void gemm_quant(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                std::size_t o0, std::size_t o1, std::size_t K) {
    qdot::gemm_quant<Bits>(w, x, ldx, y, ldy, T, o0, o1, K);
}

}  // namespace rwkv::cpu::RWKV_CPU_ISA_NAMESPACE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#undef RWKV_QDOT_AVX512
#undef RWKV_QDOT_AVX2
#undef RWKV_QDOT_VNNI
#undef RWKV_QDOT_UNROLL
