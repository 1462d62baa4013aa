// rwkv/backends/cpu/simd_kernels.hpp — the cpu backend's matrix kernels as xsimd templates.
//
// Include only from a translation unit compiled for one ISA (src/cpu_kernels_isa.cpp defines
// RWKV_CPU_ISA_NAMESPACE and is built once per ISA with that ISA's -m flags): the functions live in
// a namespace named after the ISA, so the per-ISA copies never collide (ODR). Arithmetic per output
// element is one fixed sequence (vector FMAs over k in order, xsimd::hadd, a scalar tail),
// whatever the tile it is computed in, so results do not depend on threads or tiling.
#pragma once

#ifndef RWKV_CPU_ISA_NAMESPACE
#error "rwkv/backends/cpu/simd_kernels.hpp is compiled per ISA by src/cpu_kernels_isa.cpp"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "rwkv/backends/cpu/kernel_table.hpp"
#include "rwkv/backends/cpu/quant_dot.hpp"

namespace rwkv::cpu::RWKV_CPU_ISA_NAMESPACE {

using arch = RWKV_CPU_XSIMD_ARCH;
using vfloat = xsimd::batch<float, arch>;
inline constexpr std::size_t L = vfloat::size;
inline constexpr bool wide_registers = L == 16;  // AVX-512: 32 vector registers

// ---- loading weights as f32 vectors ----------------------------------------------------------------
inline vfloat load(const float* p) noexcept { return vfloat::load_unaligned(p); }

inline vfloat load(const std::uint16_t* p, bf16*) noexcept {  // bf16 → f32 is a 16-bit shift
#if defined(__AVX512F__)
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
#elif defined(__AVX2__)
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
#else
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), v));
#endif
}

inline vfloat load(const std::uint16_t* p, f16*) noexcept {
#if defined(__AVX512F__)
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#elif defined(__F16C__)
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#else
    alignas(16) float tmp[L];
    for (std::size_t i = 0; i < L; ++i) tmp[i] = f16::from_bits(p[i]).to_float();
    return vfloat::load_aligned(tmp);
#endif
}

inline vfloat load_int8(const std::int8_t* p) noexcept {
#if defined(__AVX512F__)
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#elif defined(__AVX2__)
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
#else
    alignas(16) float tmp[L];
    for (std::size_t i = 0; i < L; ++i) tmp[i] = static_cast<float>(p[i]);
    return vfloat::load_aligned(tmp);
#endif
}

// int4: byte j of a 32-weight block holds weight j (low nibble) and weight j + 16 (high nibble),
// each stored as code + 8. Loads weights [j, j + L) (high = false) or [16 + j, 16 + j + L).
inline vfloat load_int4(const std::uint8_t* block, std::size_t j, bool high) noexcept {
#if defined(__AVX512F__)
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + j)));
    if (high) v = _mm512_srli_epi32(v, 4);
    v = _mm512_sub_epi32(_mm512_and_si512(v, _mm512_set1_epi32(15)), _mm512_set1_epi32(8));
    return _mm512_cvtepi32_ps(v);
#elif defined(__AVX2__)
    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + j)));
    if (high) v = _mm256_srli_epi32(v, 4);
    v = _mm256_sub_epi32(_mm256_and_si256(v, _mm256_set1_epi32(15)), _mm256_set1_epi32(8));
    return _mm256_cvtepi32_ps(v);
#else
    alignas(16) float tmp[L];
    for (std::size_t i = 0; i < L; ++i) {
        const int b = block[j + i];
        tmp[i] = static_cast<float>((high ? b >> 4 : b & 15) - 8);
    }
    return vfloat::load_aligned(tmp);
#endif
}

template <class Tag>
struct scalar_weight;
template <>
struct scalar_weight<float> {
    static float get(const float* p, std::size_t i) noexcept { return p[i]; }
};
template <>
struct scalar_weight<bf16> {
    static float get(const std::uint16_t* p, std::size_t i) noexcept { return bf16::from_bits(p[i]).to_float(); }
};
template <>
struct scalar_weight<f16> {
    static float get(const std::uint16_t* p, std::size_t i) noexcept { return f16::from_bits(p[i]).to_float(); }
};

template <class Tag, class W>
inline vfloat load_weights(const W* p) noexcept {
    if constexpr (std::is_same_v<Tag, float>) return load(p);
    else return load(p, static_cast<Tag*>(nullptr));
}

// ---- gemm: Y[t, o] = Σ_k W[o, k] X[t, k] ---------------------------------------------------------------
// An R × TT tile: R weight rows against TT tokens, one accumulator per (row, token).
template <class Tag, std::size_t R, std::size_t TT, class W>
inline void gemm_tile(const W* w, std::size_t ldw, const float* x, std::size_t ldx, float* y, std::size_t ldy,
                      std::size_t K) noexcept {
    vfloat acc[R][TT];
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t t = 0; t < TT; ++t) acc[r][t] = vfloat(0.0f);
    const std::size_t Kv = K / L * L;
    for (std::size_t k = 0; k < Kv; k += L) {
        vfloat xv[TT];
        for (std::size_t t = 0; t < TT; ++t) xv[t] = load(x + t * ldx + k);
        for (std::size_t r = 0; r < R; ++r) {
            const vfloat wv = load_weights<Tag>(w + r * ldw + k);
            for (std::size_t t = 0; t < TT; ++t) acc[r][t] = xsimd::fma(wv, xv[t], acc[r][t]);
        }
    }
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t t = 0; t < TT; ++t) {
            float s = xsimd::hadd(acc[r][t]);
            for (std::size_t k = Kv; k < K; ++k) s = std::fma(scalar_weight<Tag>::get(w + r * ldw, k), x[t * ldx + k], s);
            y[t * ldy + r] = s;
        }
}

template <class Tag, std::size_t TT, class W>
inline void gemm_rows(const W* w, std::size_t ldw, const float* x, std::size_t ldx, float* y, std::size_t ldy,
                      std::size_t o0, std::size_t o1, std::size_t K) noexcept {
    constexpr std::size_t R = TT == 1 ? 8 : 4;
    std::size_t o = o0;
    for (; o + R <= o1; o += R) gemm_tile<Tag, R, TT>(w + o * ldw, ldw, x, ldx, y + o, ldy, K);
    for (; o < o1; ++o) gemm_tile<Tag, 1, TT>(w + o * ldw, ldw, x, ldx, y + o, ldy, K);
}

// ---- the batched gemm for 16-register ISAs (AVX2, SSE2) ------------------------------------------------
// Prefetch cursor: the lines of one k chunk of the next row block, row by row, one line every other
// k step of the tiles, into L2; the next block then starts on data already near the core.
struct chunk_prefetch {
    const char* base = nullptr;  // the next block's first row at this chunk's first k
    std::size_t row_bytes = 0, rows = 0, lines = 0;  // row stride, rows to fetch (0: none), lines per row
    std::size_t r = 0, l = 0;
    bool skip = false;
    void step() noexcept {
        skip = !skip;
        if (skip || r >= rows) return;
        _mm_prefetch(base + r * row_bytes + l * 64, _MM_HINT_T1);
        if (++l == lines) l = 0, ++r;
    }
};

// A tile of R = 3 rows × TT = 4 tokens keeps its 12 accumulators, the 3 weight vectors of one k step
// and one token vector in the 16 vector registers: per k step it loads 3 + 4 vectors for 12 FMAs, and
// a batch of 16 tokens is exactly four tiles (docs/cpu-backend.md, "f32 gemm tiles").
// gemm_tile_k runs such a tile over k ∈ [k0, k1) only, continuing accumulators kept in `acc` (lane
// vectors at acc + (r · acc_ld + t) · L): splitting k into chunks and spilling the accumulators between
// them changes no bits, since every lane still sees its FMAs in increasing k.
template <class Tag, std::size_t R, std::size_t TT, class W>
inline void gemm_tile_k(const W* w, std::size_t ldw, const float* x, std::size_t ldx, std::size_t k0, std::size_t k1,
                        float* acc, std::size_t acc_ld, chunk_prefetch& pf) noexcept {
    vfloat a[R][TT];
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t t = 0; t < TT; ++t)
            a[r][t] = k0 == 0 ? vfloat(0.0f) : vfloat::load_aligned(acc + (r * acc_ld + t) * L);
    for (std::size_t k = k0; k < k1; k += L) {
        pf.step();
        vfloat wv[R];
        for (std::size_t r = 0; r < R; ++r) wv[r] = load_weights<Tag>(w + r * ldw + k);
        for (std::size_t t = 0; t < TT; ++t) {
            const vfloat xv = load(x + t * ldx + k);
            for (std::size_t r = 0; r < R; ++r) a[r][t] = xsimd::fma(wv[r], xv, a[r][t]);
        }
    }
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t t = 0; t < TT; ++t) a[r][t].store_aligned(acc + (r * acc_ld + t) * L);
}

// Rows [ob, ob + nr) of one row block against TT tokens, over one k chunk.
template <class Tag, std::size_t TT, class W>
inline void gemm_block_k(const W* w, std::size_t ldw, const float* x, std::size_t ldx, std::size_t nr, std::size_t k0,
                         std::size_t k1, float* acc, std::size_t acc_ld, chunk_prefetch& pf) noexcept {
    constexpr std::size_t R = 3;
    std::size_t r = 0;
    for (; r + R <= nr; r += R) gemm_tile_k<Tag, R, TT>(w + r * ldw, ldw, x, ldx, k0, k1, acc + r * acc_ld * L, acc_ld, pf);
    for (; r < nr; ++r) gemm_tile_k<Tag, 1, TT>(w + r * ldw, ldw, x, ldx, k0, k1, acc + r * acc_ld * L, acc_ld, pf);
}

// Loop nest (cache blocking): rows in blocks of RB = 12, tokens in chunks of TC = 16, k in chunks of
// KC = 256 floats. One k chunk's working set, 12 weight rows (12 KiB) + 16 token rows (16 KiB) + the
// block's accumulators (6 KiB), stays in L1 while the four token tiles pass over the block; without
// the k chunks every token tile re-read its weights and tokens from L2. The accumulators live in a
// stack buffer: nothing is allocated.
template <class Tag, class W>
void gemm_batched(const W* w, std::size_t ldw, const float* x, std::size_t ldx, float* y, std::size_t ldy,
                  std::size_t T, std::size_t o0, std::size_t o1, std::size_t K) {
        constexpr std::size_t RB = 12, TC = 16, KC = 256;
    static_assert(KC % L == 0);
    alignas(64) float acc[RB * TC * L];
    const std::size_t Kv = K / L * L;
    for (std::size_t ob = o0; ob < o1; ob += RB) {
        const std::size_t nr = std::min(o1 - ob, RB);
        const W* wb = w + ob * ldw;
        // While a k chunk of this block is computed, the same chunk of the next block is prefetched
        // into L2 in the order it will be read (chunk_prefetch): the k-chunked order reads 12 rows at
        // once, which the hardware prefetcher alone follows at a fraction of the bandwidth.
        const std::size_t next_rows = ob + RB < o1 ? std::min(o1 - ob - RB, RB) : 0;
        for (std::size_t tc0 = 0; tc0 < T; tc0 += TC) {
            const std::size_t tc = std::min(T - tc0, TC);
            const float* xc = x + tc0 * ldx;
            for (std::size_t k0 = 0; k0 < Kv; k0 += KC) {
                const std::size_t k1 = std::min(Kv, k0 + KC);
                chunk_prefetch pf;
                if (next_rows > 0 && tc0 == 0) {
                    pf.base = reinterpret_cast<const char*>(wb + RB * ldw + k0);
                    pf.row_bytes = ldw * sizeof(W);
                    pf.rows = next_rows;
                    pf.lines = ((k1 - k0) * sizeof(W) + 63) / 64;
                }
                std::size_t t = 0;
                for (; t + 4 <= tc; t += 4) gemm_block_k<Tag, 4>(wb, ldw, xc + t * ldx, ldx, nr, k0, k1, acc + t * L, TC, pf);
                for (; t + 2 <= tc; t += 2) gemm_block_k<Tag, 2>(wb, ldw, xc + t * ldx, ldx, nr, k0, k1, acc + t * L, TC, pf);
                for (; t < tc; ++t) gemm_block_k<Tag, 1>(wb, ldw, xc + t * ldx, ldx, nr, k0, k1, acc + t * L, TC, pf);
            }
            // The same finish as gemm_tile: hadd of the lanes, then the scalar tail k ∈ [Kv, K).
            for (std::size_t r = 0; r < nr; ++r)
                for (std::size_t t = 0; t < tc; ++t) {
                    const vfloat a = Kv > 0 ? vfloat::load_aligned(acc + (r * TC + t) * L) : vfloat(0.0f);
                    float s = xsimd::hadd(a);
                    for (std::size_t k = Kv; k < K; ++k)
                        s = std::fma(scalar_weight<Tag>::get(wb + r * ldw, k), xc[t * ldx + k], s);
                    y[(tc0 + t) * ldy + ob + r] = s;
                }
        }
    }
}

template <class Tag, class W>
void gemm(const W* w, std::size_t ldw, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
          std::size_t o0, std::size_t o1, std::size_t K) {
    if constexpr (!wide_registers) {
        if (T >= 4) return gemm_batched<Tag>(w, ldw, x, ldx, y, ldy, T, o0, o1, K);
    }
    // Token tiles of 6 (AVX-512: 24 accumulators of 32 registers, 4 rows × 6 tokens) or 3 (AVX2 and
    // SSE2: 12 of 16, 4 rows × 3 tokens, which leaves registers for the 3 token vectors and one
    // weight vector), then tiles of 4 or 2, and single tokens last: a single-token pass loads a
    // weight vector per FMA, so the remainder is kept off it where it can be (a batched decode step of
    // 16 agents on AVX2 runs 4 × 3 + 2 × 2). Every tile computes an output by the same sequence of
    // operations, so the tiling changes no bits.
    constexpr std::size_t TT = wide_registers ? 6 : 3;
    // Rows in blocks that stay in L1/L2 while every token tile passes over them.
    const std::size_t row_block = std::max<std::size_t>(8, (16384 / std::max<std::size_t>(1, K)) / 8 * 8);
    // Full TT-tiles, leaving a remainder of two TT=3 tiles' worth rather than one lone token.
    std::size_t full = T / TT;
    if constexpr (TT == 3)
        if (T % 3 == 1 && full > 0) --full;
    for (std::size_t ob = o0; ob < o1; ob += row_block) {
        const std::size_t oe = std::min(o1, ob + row_block);
        std::size_t t = 0;
        for (; t < full * TT; t += TT) gemm_rows<Tag, TT>(w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, ob, oe, K);
        if constexpr (TT > 4)
            for (; t + 4 <= T; t += 4) gemm_rows<Tag, 4>(w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, ob, oe, K);
        else
            for (; t + 2 <= T; t += 2) gemm_rows<Tag, 2>(w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, ob, oe, K);
        for (; t < T; ++t) gemm_rows<Tag, 1>(w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, ob, oe, K);
    }
}

// ---- block-quantized gemm: gemm_quant<Bits> (integer dot products) is in quant_dot.hpp ---------------

// ---- project: Y[t, o] = Σ_i X[t, i] M[i, o], vectorised over o ---------------------------------------
template <class Tag, class W>
void project(const float* x, std::size_t ldx, const W* m, std::size_t ldm, float* y, std::size_t ldy,
             std::size_t T, std::size_t K, std::size_t o0, std::size_t o1) {
    for (std::size_t t = 0; t < T; ++t) {
        const float* xt = x + t * ldx;
        float* yt = y + t * ldy;
        std::size_t o = o0;
        for (; o + 4 * L <= o1; o += 4 * L) {
            vfloat a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
            for (std::size_t i = 0; i < K; ++i) {
                const vfloat xi(xt[i]);
                const W* row = m + i * ldm + o;
                a0 = xsimd::fma(xi, load_weights<Tag>(row), a0);
                a1 = xsimd::fma(xi, load_weights<Tag>(row + L), a1);
                a2 = xsimd::fma(xi, load_weights<Tag>(row + 2 * L), a2);
                a3 = xsimd::fma(xi, load_weights<Tag>(row + 3 * L), a3);
            }
            a0.store_unaligned(yt + o);
            a1.store_unaligned(yt + o + L);
            a2.store_unaligned(yt + o + 2 * L);
            a3.store_unaligned(yt + o + 3 * L);
        }
        for (; o + L <= o1; o += L) {
            vfloat a(0.0f);
            for (std::size_t i = 0; i < K; ++i) a = xsimd::fma(vfloat(xt[i]), load_weights<Tag>(m + i * ldm + o), a);
            a.store_unaligned(yt + o);
        }
        for (; o < o1; ++o) {  // the same per-element sequence as a lane: fma over i in order
            float a = 0.0f;
            for (std::size_t i = 0; i < K; ++i) a = std::fma(xt[i], scalar_weight<Tag>::get(m + i * ldm, o), a);
            yt[o] = a;
        }
    }
}

// ---- project for block-quantized M [K, out]: per input row i and block b, y += (x_i·scale) · codes ------
template <std::size_t Bits>
void project_quant(const float* x, std::size_t ldx, const quant_rows& m, float* y, std::size_t ldy, std::size_t T,
                   std::size_t K, std::size_t o0, std::size_t o1) {
    constexpr std::size_t B = quant_block;
    for (std::size_t t = 0; t < T; ++t) {
        float* yt = y + t * ldy;
        std::fill(yt + o0, yt + o1, 0.0f);
        for (std::size_t i = 0; i < K; ++i) {
            const std::int8_t* row = m.codes + i * m.code_stride;
            const float* sc = m.scales + i * m.scale_stride;
            const float xi = x[t * ldx + i];
            std::size_t o = o0;
            for (; o + B <= o1; o += B) {
                const vfloat s(xi * sc[o / B]);
                for (std::size_t j = 0; j < B; j += L) {
                    vfloat wv;
                    if constexpr (Bits == 8) wv = load_int8(row + o + j);
                    else wv = load_int4(reinterpret_cast<const std::uint8_t*>(row) + o / 2, j % 16, j >= 16);
                    xsimd::fma(s, wv, load(yt + o + j)).store_unaligned(yt + o + j);
                }
            }
            for (; o < o1; ++o)  // a last, partial block: the same fma per element as a lane
                yt[o] = std::fma(xi * sc[o / B], quant_code<Bits>(row, o), yt[o]);
        }
    }
}

// ---- WKV scans, vectorised over the head dimension ------------------------------------------------------
// RWKV-7 (ops/wkv7.hpp): per value row i, sa = S[i]·a; S[i] = S[i]⊙w + sa·b + v[i]·k; y[i] = S[i]·r.
inline void wkv7_head(const wkv_head_args& p) {
    const std::size_t N = p.N, nv = N / L;
    for (std::size_t t = 0; t < p.T; ++t) {
        const float *r = p.r + t * p.ldr, *w = p.w + t * p.ldw, *k = p.k + t * p.ldk, *v = p.v + t * p.ldv,
                    *a = p.a + t * p.lda, *b = p.b + t * p.ldb;
        float* y = p.y + t * p.ldy;
        for (std::size_t i = 0; i < N; ++i) {
            float* row = p.S + i * N;
            vfloat sa_acc(0.0f);
            for (std::size_t c = 0; c < nv; ++c) sa_acc = xsimd::fma(load(row + c * L), load(a + c * L), sa_acc);
            const vfloat sa(xsimd::hadd(sa_acc)), vi(v[i]);
            vfloat out(0.0f);
            for (std::size_t c = 0; c < nv; ++c) {
                const vfloat s = xsimd::fma(load(row + c * L), load(w + c * L), xsimd::fma(sa, load(b + c * L), vi * load(k + c * L)));
                s.store_unaligned(row + c * L);
                out = xsimd::fma(s, load(r + c * L), out);
            }
            y[i] = xsimd::hadd(out);
        }
    }
}

// RWKV-5/6 (ops/wkv6.hpp): for each key row i, y += r[i]·(u[i]·k[i]·v + S[i]); S[i] = k[i]·v + w[i]·S[i].
inline void wkv6_head(const wkv_head_args& p) {
    const std::size_t N = p.N, nv = N / L;
    for (std::size_t t = 0; t < p.T; ++t) {
        const float *r = p.r + t * p.ldr, *w = p.w + t * p.ldw, *k = p.k + t * p.ldk, *v = p.v + t * p.ldv;
        float* y = p.y + t * p.ldy;
        for (std::size_t c = 0; c < nv; ++c) vfloat(0.0f).store_unaligned(y + c * L);
        for (std::size_t i = 0; i < N; ++i) {
            float* row = p.S + i * N;
            const vfloat ri(r[i]), ki(k[i]), ui(p.u[i]), wi(w[i]);
            for (std::size_t c = 0; c < nv; ++c) {
                const vfloat kv = ki * load(v + c * L), s = load(row + c * L);
                xsimd::fma(ri, xsimd::fma(ui, kv, s), load(y + c * L)).store_unaligned(y + c * L);
                xsimd::fma(wi, s, kv).store_unaligned(row + c * L);
            }
        }
    }
}

// dst = srcᵀ for one 8 × 8 block (row strides lds, ldd).
#if defined(__AVX2__)
inline void transpose8x8(const float* src, std::size_t lds, float* dst, std::size_t ldd) noexcept {
    __m256 r[8], t[8];
    for (std::size_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
    for (std::size_t i = 0; i < 8; i += 2) {  // interleave row pairs: 2 × 2 blocks
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (std::size_t i = 0; i < 8; i += 4) {  // 4 × 4 blocks within each 128-bit half
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (std::size_t i = 0; i < 4; ++i) {  // swap the off-diagonal 4 × 4 blocks
        _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}
#endif

// The chunked scans (wkv_chunked.hpp) in this ISA's vectors.
struct simd_lanes {
    using vec = vfloat;
    static constexpr std::size_t lanes = L, registers = wide_registers ? 32 : 16;
    static vec load(const float* p) noexcept { return vfloat::load_unaligned(p); }
    static void store(float* p, vec v) noexcept { v.store_unaligned(p); }
    static vec splat(float x) noexcept { return vfloat(x); }
    static vec fma(vec a, vec b, vec c) noexcept { return xsimd::fma(a, b, c); }
    static float sum(vec v) noexcept { return xsimd::hadd(v); }
    // dst = srcᵀ for one L × L block.
    static void transpose(const float* src, std::size_t lds, float* dst, std::size_t ldd) noexcept {
#if defined(__AVX2__)
        for (std::size_t i = 0; i < L; i += 8)
            for (std::size_t j = 0; j < L; j += 8) transpose8x8(src + i * lds + j, lds, dst + j * ldd + i, ldd);
#else
        __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + lds), r2 = _mm_loadu_ps(src + 2 * lds),
               r3 = _mm_loadu_ps(src + 3 * lds);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst, r0), _mm_storeu_ps(dst + ldd, r1), _mm_storeu_ps(dst + 2 * ldd, r2),
            _mm_storeu_ps(dst + 3 * ldd, r3);
#endif
    }
};

// Tokens per chunk: the fastest measured (bench: wkv7_chunked, wkv6_chunked) of 8, 16, 32 — 16 with
// 8 or 16 lanes (one or two vectors of scores), 8 with SSE2's 4.
inline constexpr std::size_t wkv_chunk = L >= 8 ? 16 : 8;
inline void wkv7_chunked(const wkv_head_args& p) { chunked::wkv7_head<simd_lanes, wkv_chunk>(p, wkv7_head); }
inline void wkv6_chunked(const wkv_head_args& p) { chunked::wkv6_head<simd_lanes, wkv_chunk>(p, wkv6_head); }

// ---- machine limits -------------------------------------------------------------------------------------
inline double fma_loop(std::size_t iterations) {
    // 12 independent chains: enough to cover FMA latency × throughput on current cores.
    constexpr std::size_t chains = 12;
    vfloat acc[chains];
    for (std::size_t c = 0; c < chains; ++c) acc[c] = vfloat(static_cast<float>(c) * 1e-3f);
    const vfloat mul(0.9999999f), add(1e-7f);
    for (std::size_t i = 0; i < iterations; ++i)
        for (std::size_t c = 0; c < chains; ++c) acc[c] = xsimd::fma(acc[c], mul, add);
    vfloat sum(0.0f);
    for (std::size_t c = 0; c < chains; ++c) sum += acc[c];
    volatile float sink = xsimd::hadd(sum);
    (void)sink;
    return 2.0 * static_cast<double>(iterations * chains * L);
}

inline float read_stream(const float* data, std::size_t n) {
    vfloat a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
    std::size_t i = 0;
    for (; i + 4 * L <= n; i += 4 * L) {
        a0 += load(data + i);
        a1 += load(data + i + L);
        a2 += load(data + i + 2 * L);
        a3 += load(data + i + 3 * L);
    }
    float s = xsimd::hadd((a0 + a1) + (a2 + a3));
    for (; i < n; ++i) s += data[i];
    return s;
}

inline const kernel_table& table() {
    static const kernel_table t{RWKV_CPU_ISA_ID,
                                gemm<float, float>,
                                gemm<bf16, std::uint16_t>,
                                gemm<f16, std::uint16_t>,
                                gemm_quant<8>,
                                gemm_quant<4>,
                                project<float, float>,
                                project<bf16, std::uint16_t>,
                                project<f16, std::uint16_t>,
                                project_quant<8>,
                                project_quant<4>,
                                wkv7_head,
                                wkv6_head,
                                wkv7_chunked,
                                wkv6_chunked,
                                fma_loop,
                                read_stream,
                                L};
    return t;
}

}  // namespace rwkv::cpu::RWKV_CPU_ISA_NAMESPACE
