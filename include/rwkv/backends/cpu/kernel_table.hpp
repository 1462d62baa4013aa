// rwkv/backends/cpu/kernel_table.hpp — the cpu backend's hot kernels, one table per instruction set.
//
// xsimd cannot compile an AVX-512 batch in a translation unit built without AVX-512 flags
// (docs/contracts.md, toolchain traps), so the SIMD kernels (simd_kernels.hpp, templates over the
// xsimd architecture) are compiled once per ISA in their own translation units
// (src/cpu_kernels_isa.cpp, built by the CMake target rwkv::cpu_kernels) and each registers a table
// of plain function pointers here. `cpu::kernels()` picks, once, the best table the running CPU
// supports (AVX-512 > AVX2+FMA > SSE2 > the portable loops below), so one binary runs everywhere.
// A program that does not link rwkv::cpu_kernels still runs: it gets the portable table.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "rwkv/backends/cpu/wkv_chunked.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/core/error.hpp"

namespace rwkv::cpu {

enum class isa : int { portable = 0, sse2 = 1, avx2 = 2, avx512 = 3 };
inline constexpr std::array<std::string_view, 4> isa_names{"portable", "sse2", "avx2", "avx512"};

// Block-quantized rows (core/quant.hpp has the formats and the byte layout).
using rwkv::quant_rows;
inline constexpr std::size_t quant_block = quant_block_size;

// One head of a matrix-state WKV scan over T tokens. Pointers are at the head's first channel;
// row t of an input is at +t·ld. S is the head's N × N state (row-major), updated in place.
struct wkv_head_args {
    float* S = nullptr;
    std::size_t N = 0, T = 0;
    const float *r = nullptr, *w = nullptr, *k = nullptr, *v = nullptr;
    const float *a = nullptr, *b = nullptr;  // RWKV-7 only
    const float* u = nullptr;                // RWKV-5/6 only: the bonus [N]
    std::size_t ldr = 0, ldw = 0, ldk = 0, ldv = 0, lda = 0, ldb = 0;
    float* y = nullptr;
    std::size_t ldy = 0;
};

// The matrix kernels. Every output element is computed by one fixed sequence of operations that
// depends neither on the thread nor on how rows and tokens are tiled, so results are bitwise the
// same for any thread count.
//   gemm_*:    Y[t, o] = Σ_k W[o, k] · X[t, k]       for o ∈ [o0, o1), t ∈ [0, T)   (W: [out, K])
//   project_*: Y[t, o] = Σ_i X[t, i] · M[i, o]       for o ∈ [o0, o1), t ∈ [0, T)   (M: [K, out])
//   gemm_int8/gemm_int4 first quantize each row of X to int8 blocks: integer block dot products
//   (core/quant.hpp; the SIMD forms are in quant_dot.hpp). project_int* keep X in f32.
struct kernel_table {
    isa id = isa::portable;
    void (*gemm_f32)(const float* w, std::size_t ldw, const float* x, std::size_t ldx, float* y, std::size_t ldy,
                     std::size_t T, std::size_t o0, std::size_t o1, std::size_t K) = nullptr;
    void (*gemm_bf16)(const std::uint16_t* w, std::size_t ldw, const float* x, std::size_t ldx, float* y,
                      std::size_t ldy, std::size_t T, std::size_t o0, std::size_t o1, std::size_t K) = nullptr;
    void (*gemm_f16)(const std::uint16_t* w, std::size_t ldw, const float* x, std::size_t ldx, float* y,
                     std::size_t ldy, std::size_t T, std::size_t o0, std::size_t o1, std::size_t K) = nullptr;
    void (*gemm_int8)(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                      std::size_t o0, std::size_t o1, std::size_t K) = nullptr;
    void (*gemm_int4)(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                      std::size_t o0, std::size_t o1, std::size_t K) = nullptr;
    void (*project_f32)(const float* x, std::size_t ldx, const float* m, std::size_t ldm, float* y, std::size_t ldy,
                        std::size_t T, std::size_t K, std::size_t o0, std::size_t o1) = nullptr;
    void (*project_bf16)(const float* x, std::size_t ldx, const std::uint16_t* m, std::size_t ldm, float* y,
                         std::size_t ldy, std::size_t T, std::size_t K, std::size_t o0, std::size_t o1) = nullptr;
    void (*project_f16)(const float* x, std::size_t ldx, const std::uint16_t* m, std::size_t ldm, float* y,
                        std::size_t ldy, std::size_t T, std::size_t K, std::size_t o0, std::size_t o1) = nullptr;
    // Y[t, o] = Σ_i X[t, i] · M[i, o] for block-quantized M [K, out]; o0 starts a block.
    void (*project_int8)(const float* x, std::size_t ldx, const quant_rows& m, float* y, std::size_t ldy,
                         std::size_t T, std::size_t K, std::size_t o0, std::size_t o1) = nullptr;
    void (*project_int4)(const float* x, std::size_t ldx, const quant_rows& m, float* y, std::size_t ldy,
                         std::size_t T, std::size_t K, std::size_t o0, std::size_t o1) = nullptr;
    // RWKV-7 (ops/wkv7.hpp: S[value][key], the delta rule) and RWKV-5/6 (ops/wkv6.hpp: S[key][value]).
    void (*wkv7_head)(const wkv_head_args&) = nullptr;
    void (*wkv6_head)(const wkv_head_args&) = nullptr;
    // The same scans in chunked form (wkv_chunked.hpp): the same results up to rounding; which is
    // the faster depends on T and the ISA (cpu_detail::chunked_wkv_is_faster in backends/cpu.hpp).
    void (*wkv7_chunked)(const wkv_head_args&) = nullptr;
    void (*wkv6_chunked)(const wkv_head_args&) = nullptr;
    // Machine limits for `rwkv-cli bench`: FMAs from registers for `iterations` rounds (returns the
    // flops done), and a read of `bytes` bytes (returns a checksum so the loads are not elided).
    double (*fma_loop)(std::size_t iterations) = nullptr;
    float (*read_stream)(const float* data, std::size_t n) = nullptr;
    std::size_t simd_floats = 1;  // lanes of one f32 vector
};

namespace portable {

inline float load_weight(const float* p, std::size_t i) noexcept { return p[i]; }
inline float load_bf16(const std::uint16_t* p, std::size_t i) noexcept { return bf16::from_bits(p[i]).to_float(); }
inline float load_f16(const std::uint16_t* p, std::size_t i) noexcept { return f16::from_bits(p[i]).to_float(); }

template <class W, float (*Load)(const W*, std::size_t)>
void gemm(const W* w, std::size_t ldw, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
          std::size_t o0, std::size_t o1, std::size_t K) {
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t o = o0; o < o1; ++o) {
            float acc = 0.0f;
            for (std::size_t k = 0; k < K; ++k) acc += Load(w + o * ldw, k) * x[t * ldx + k];
            y[t * ldy + o] = acc;
        }
}

template <class W, float (*Load)(const W*, std::size_t)>
void project(const float* x, std::size_t ldx, const W* m, std::size_t ldm, float* y, std::size_t ldy, std::size_t T,
             std::size_t K, std::size_t o0, std::size_t o1) {
    for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t o = o0; o < o1; ++o) y[t * ldy + o] = 0.0f;
        for (std::size_t i = 0; i < K; ++i) {
            const float xi = x[t * ldx + i];
            for (std::size_t o = o0; o < o1; ++o) y[t * ldy + o] += xi * Load(m + i * ldm, o);
        }
    }
}

// gemm_int8 / gemm_int4 (core/quant.hpp has the semantics): each row of X is quantized to int8 blocks
// like a weight row, then y = Σ_b (s_w · d_x) · (exact integer block sum). Codes of one token live on
// the stack up to K = 8192, beyond in a per-thread buffer that only grows (no allocation per token).
template <std::size_t Bits>
void gemm_quant(const quant_rows& w, const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t T,
                std::size_t o0, std::size_t o1, std::size_t K) {
    constexpr std::size_t B = quant_block, stack_blocks = 256;
    const std::size_t nb = quant_row_blocks<int8_block>(K);
    std::int8_t stack_codes[stack_blocks * B];
    float stack_scales[stack_blocks];
    std::int8_t* xc = stack_codes;
    float* dx = stack_scales;
    if (nb > stack_blocks) {
        thread_local std::vector<std::int8_t> heap_codes;
        thread_local std::vector<float> heap_scales;
        if (heap_codes.size() < nb * B) heap_codes.resize(nb * B), heap_scales.resize(nb);
        xc = heap_codes.data(), dx = heap_scales.data();
    }
    for (std::size_t t = 0; t < T; ++t) {
        quantize_row<int8_block>(x + t * ldx, K, xc, dx);
        for (std::size_t o = o0; o < o1; ++o) {
            const std::int8_t* row = w.codes + o * w.code_stride;
            const float* s = w.scales + o * w.scale_stride;
            float acc = 0.0f;
            for (std::size_t b = 0; b < nb; ++b) {
                std::int32_t isum = 0;
                const std::int8_t* xb = xc + b * B;
                if constexpr (Bits == 8) {
                    for (std::size_t j = 0; j < B; ++j) isum += row[b * B + j] * xb[j];
                } else {  // the layout of core/quant.hpp: byte j holds weights j (low) and j + 16 (high), + 8
                    const auto* blk = reinterpret_cast<const std::uint8_t*>(row) + b * (B / 2);
                    for (std::size_t j = 0; j < B / 2; ++j)
                        isum += ((blk[j] & 15) - 8) * xb[j] + ((blk[j] >> 4) - 8) * xb[j + B / 2];
                }
                acc += (s[b] * dx[b]) * static_cast<float>(isum);
            }
            y[t * ldy + o] = acc;
        }
    }
}

template <std::size_t Bits>
void project_quant(const float* x, std::size_t ldx, const quant_rows& m, float* y, std::size_t ldy, std::size_t T,
                   std::size_t K, std::size_t o0, std::size_t o1) {
    for (std::size_t t = 0; t < T; ++t) {
        float* yt = y + t * ldy;
        for (std::size_t o = o0; o < o1; ++o) yt[o] = 0.0f;
        for (std::size_t i = 0; i < K; ++i) {
            const std::int8_t* row = m.codes + i * m.code_stride;
            const float* sc = m.scales + i * m.scale_stride;
            for (std::size_t o = o0; o < o1; ++o)
                yt[o] = std::fma(x[t * ldx + i] * sc[o / quant_block], quant_code<Bits>(row, o), yt[o]);
        }
    }
}

inline void wkv7_head(const wkv_head_args& p) {
    const std::size_t N = p.N;
    for (std::size_t t = 0; t < p.T; ++t) {
        const float *r = p.r + t * p.ldr, *w = p.w + t * p.ldw, *k = p.k + t * p.ldk, *v = p.v + t * p.ldv,
                    *a = p.a + t * p.lda, *b = p.b + t * p.ldb;
        for (std::size_t i = 0; i < N; ++i) {
            float* row = p.S + i * N;
            float sa = 0.0f;
            for (std::size_t j = 0; j < N; ++j) sa += row[j] * a[j];
            float out = 0.0f;
            for (std::size_t j = 0; j < N; ++j) {
                row[j] = row[j] * w[j] + (sa * b[j] + v[i] * k[j]);
                out += row[j] * r[j];
            }
            p.y[t * p.ldy + i] = out;
        }
    }
}

inline void wkv6_head(const wkv_head_args& p) {
    const std::size_t N = p.N;
    for (std::size_t t = 0; t < p.T; ++t) {
        const float *r = p.r + t * p.ldr, *w = p.w + t * p.ldw, *k = p.k + t * p.ldk, *v = p.v + t * p.ldv;
        float* y = p.y + t * p.ldy;
        for (std::size_t j = 0; j < N; ++j) y[j] = 0.0f;
        for (std::size_t i = 0; i < N; ++i) {
            float* row = p.S + i * N;
            for (std::size_t j = 0; j < N; ++j) {
                const float kv = k[i] * v[j];
                y[j] += r[i] * (p.u[i] * kv + row[j]);
                row[j] = kv + w[i] * row[j];
            }
        }
    }
}

// The chunked scans (wkv_chunked.hpp), in chunks of 8 tokens (measured faster than 16 here).
inline constexpr std::size_t wkv_chunk = 8;
inline void wkv7_chunked(const wkv_head_args& p) {
    chunked::wkv7_head<chunked::scalar_lanes, wkv_chunk>(p, wkv7_head);
}
inline void wkv6_chunked(const wkv_head_args& p) {
    chunked::wkv6_head<chunked::scalar_lanes, wkv_chunk>(p, wkv6_head);
}

inline double fma_loop(std::size_t iterations) {
    float a = 1.0f, b = 0.999999f, c = 1e-7f;
    for (std::size_t i = 0; i < iterations; ++i) a = a * b + c;
    volatile float sink = a;
    (void)sink;
    return 2.0 * static_cast<double>(iterations);
}

inline float read_stream(const float* data, std::size_t n) {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) s += data[i];
    return s;
}

// The portable table. A program that links rwkv::cpu_kernels (which defines
// RWKV_CPU_KERNELS_COMPILED for it) gets it compiled once, in src/cpu_kernels_portable.cpp, so its
// translation units do not instantiate these loops again; header-only users get it inline.
#if defined(RWKV_CPU_KERNELS_COMPILED) && !defined(RWKV_CPU_DEFINE_PORTABLE_TABLE)
const kernel_table& table();
#else
#ifdef RWKV_CPU_DEFINE_PORTABLE_TABLE
const kernel_table& table() {
#else
inline const kernel_table& table() {
#endif
    static const kernel_table t{isa::portable,
                                gemm<float, load_weight>,
                                gemm<std::uint16_t, load_bf16>,
                                gemm<std::uint16_t, load_f16>,
                                gemm_quant<8>,
                                gemm_quant<4>,
                                project<float, load_weight>,
                                project<std::uint16_t, load_bf16>,
                                project<std::uint16_t, load_f16>,
                                project_quant<8>,
                                project_quant<4>,
                                wkv7_head,
                                wkv6_head,
                                wkv7_chunked,
                                wkv6_chunked,
                                fma_loop,
                                read_stream,
                                1};
    return t;
}
#endif

}  // namespace portable

// The tables registered by the per-ISA translation units (null where not linked in).
inline std::array<const kernel_table*, 4>& registered_tables() noexcept {
    static std::array<const kernel_table*, 4> tables{};
    return tables;
}

struct register_table {
    explicit register_table(const kernel_table* t) noexcept { registered_tables()[static_cast<int>(t->id)] = t; }
};

#if defined(__x86_64__) || defined(__i386__)
// F16C (CPUID.1:ECX bit 29); clang 14's __builtin_cpu_supports does not know "f16c".
inline bool has_f16c() noexcept {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
}
#endif

// Whether the running CPU can execute code of this ISA.
inline bool cpu_supports(isa i) noexcept {
#if defined(__x86_64__) || defined(__i386__)
    switch (i) {
        case isa::portable: return true;
        case isa::sse2: return __builtin_cpu_supports("sse2");
        case isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
        case isa::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    }
    return false;
#else
    return i == isa::portable;
#endif
}

// The table for one ISA; throws unsupported_error when it is not linked in or the CPU lacks it.
inline const kernel_table& kernels_for(isa i) {
    if (i == isa::portable) return portable::table();
    const kernel_table* t = registered_tables()[static_cast<int>(i)];
    const std::string name(isa_names[static_cast<int>(i)]);
    if (!t) throw unsupported_error("cpu kernels for " + name + " are not linked into this program (link rwkv::cpu_kernels)");
    if (!cpu_supports(i)) throw unsupported_error("this CPU cannot run the " + name + " kernels");
    return *t;
}

inline isa parse_isa(std::string_view s) {
    for (std::size_t i = 0; i < isa_names.size(); ++i)
        if (isa_names[i] == s) return static_cast<isa>(i);
    throw invalid_argument("unknown instruction set '" + std::string(s) + "' (expected portable, sse2, avx2, avx512)");
}

// The best table for this CPU, chosen once. RWKV_CPU_ISA=avx2 (etc.) caps the choice, for
// benchmarks and for testing the other paths on a machine that has them all.
inline const kernel_table& kernels() {
    static const kernel_table& chosen = [&]() -> const kernel_table& {
        int cap = static_cast<int>(isa::avx512);
        if (const char* env = std::getenv("RWKV_CPU_ISA"); env && *env) cap = static_cast<int>(parse_isa(env));
        for (int i = cap; i > 0; --i) {
            const auto id = static_cast<isa>(i);
            if (registered_tables()[i] && cpu_supports(id)) return *registered_tables()[i];
        }
        return portable::table();
    }();
    return chosen;
}

}  // namespace rwkv::cpu
