// rwkv/backends/cpu/wkv_chunked.hpp — the chunked (matrix) form of the RWKV-5/6 and RWKV-7 WKV scans.
//
// The sequential scans (kernel_table.hpp, simd_kernels.hpp) read and rewrite a head's whole N × N
// state once per token. Here the tokens go in chunks of Lc: per chunk the state is read once for
// all the chunk's outputs and advanced once, through dense products whose tiles stay in registers;
// what the tokens of one chunk do to each other goes through Lc × Lc score matrices. The results
// are the scans' up to rounding (the same products, summed in another order).
//
// Notation, per head and chunk: tokens t, s ∈ [0, len) inside the chunk, S the state before it, and
// the decay between two tokens as the product of the decays strictly between them,
//   D(t, s) = Π_{m=s+1}^{t−1} w_m        (elementwise over channels; an empty product is 1),
// so Π_{m<t} w_m = D(t, −1). Every decay factor used is such a product over a range inside one
// chunk, formed by multiplications only: never a division or the exp of a difference of cumulative
// log-decays, so nothing overflows, and a factor underflows (to 0, through denormals) only where the
// true factor is below ~1e-38, i.e. where its term is far below the float resolution of the sum it
// enters. w = 0 is exact.
//
// RWKV-5/6 (ops/wkv6.hpp; Eagle/Finch, arXiv 2404.05892 §4), S[key i][value j]:
//   y_t = Sᵀ (r_t ⊙ D(t, −1)) + Σ_{s<t} A(t, s) v_s + (Σ_i r_t[i] u[i] k_t[i]) v_t,
//   A(t, s) = Σ_i r_t[i] k_s[i] D(t, s)[i],
//   S' = diag(D(len, −1)) S + Σ_s (k_s ⊙ D(len, s)) v_sᵀ.
//
// RWKV-7 (ops/wkv7.hpp; arXiv 2503.14456, the generalized delta rule), S[value i][key j], transition
// diag(w_t) + a_t b_tᵀ. Unrolling the diagonal part and carrying the rank-one part through
// sa_t = S_{t−1} a_t (the state the token reads, before its own update):
//   S_t = S diag(D(t+1, −1)) + Σ_{s≤t} (sa_s b_sᵀ + v_s k_sᵀ) diag(D(t+1, s)).
// With the scores Mb(t, s) = Σ_j a_t[j] b_s[j] D(t, s)[j] (s < t) and Qb(t, s) = Σ_j r_t[j] b_s[j]
// D(t+1, s)[j] (s ≤ t; D(t+1, s) = D(t, s) ⊙ w_t for s < t, 1 for s = t), and Mk, Qk likewise with k:
//   sa_t = S (a_t ⊙ D(t, −1)) + Σ_{s<t} Mk(t, s) v_s + Σ_{s<t} Mb(t, s) sa_s
//   y_t  = S (r_t ⊙ D(t+1, −1)) + Σ_{s≤t} Qb(t, s) sa_s + Qk(t, s) v_s
//   S'   = S diag(D(len, −1)) + Σ_s sa_s (b_s ⊙ D(len, s))ᵀ + v_s (k_s ⊙ D(len, s))ᵀ.
// The sa_t solve a unit lower-triangular system, (I − Mb) SA = Ã Sᵀ + Mk V, by forward
// substitution: the chunk's product of transitions is its diagonal part plus a rank-len correction
// (the WY / UT-transform representation of a product of diagonal-plus-low-rank matrices).
// The kernel keeps RWKV-7's state transposed (key × value) during a call, so that both versions are
// products of token rows with the state, vectorised over values, and the same tile code runs them.
//
// Cost per token: 2N² (RWKV-5/6) or 4N² (RWKV-7) multiply-adds in register-tiled products, as many
// as the scans do but without a load and store of the state per token; plus O(Lc·N) for the scores
// and, for RWKV-7, two N × N transpositions per call.
//
// Everything here is a template over `Lanes`, the vector operations the kernels are written in:
//   vec; lanes (floats per vec, dividing N and Lc); registers (vector registers to plan tiles for);
//   load(const float*), store(float*, vec), splat(float), fma(a, b, c) = a·b + c, sum(vec),
//   transpose(src, lds, dst, ldd) (of one lanes × lanes block); vec * vec.
// simd_kernels.hpp instantiates them with a type of its ISA namespace (so each ISA's copy is its own
// symbol, docs/contracts.md); the portable table with scalar_lanes. The head arguments are a
// template parameter too (cpu::wkv_head_args), so that this header needs no other.
#pragma once

#include <algorithm>
#include <cstddef>

namespace rwkv::cpu::chunked {

// One float per "vector": the portable kernels.
struct scalar_lanes {
    using vec = float;
    static constexpr std::size_t lanes = 1, registers = 16;
    static vec load(const float* p) noexcept { return *p; }
    static void store(float* p, vec v) noexcept { *p = v; }
    static vec splat(float x) noexcept { return x; }
    static vec fma(vec a, vec b, vec c) noexcept { return a * b + c; }
    static float sum(vec v) noexcept { return v; }
    static void transpose(const float* src, std::size_t, float* dst, std::size_t) noexcept { *dst = *src; }
};

// One operand pair of a product: x [rows × depth] (row stride ldx) times m [depth × N] (row
// stride ldm). `causal`: x[r][d] = 0 for d > r, so those columns are skipped.
struct product_term {
    const float* x = nullptr;
    std::size_t ldx = 0;
    const float* m = nullptr;
    std::size_t ldm = 0;
    std::size_t depth = 0;
    bool causal = false;
};

// The destination and the starting value of a product:
//   out[r][:] = base[r][:] + Σ_terms Σ_d x[r][d] · m[d][:]    for r < rows, N columns,
// base = 0 without `init`, init[r][:] without `scale`, else scale[r] · init[r][:] (init may be out).
struct product_target {
    float* out = nullptr;
    std::size_t ldo = 0, rows = 0;
    const float* init = nullptr;
    std::size_t ldi = 0;
    const float* scale = nullptr;
};

// A tile of Rows rows × Cols vectors, accumulated in registers.
template <class Lanes, std::size_t Rows, std::size_t Cols>
inline void product_tile(const product_target& o, const product_term (&terms)[2], std::size_t r0, std::size_t c0) {
    using vec = typename Lanes::vec;
    constexpr std::size_t L = Lanes::lanes;
    vec acc[Rows][Cols];
    for (std::size_t r = 0; r < Rows; ++r)
        for (std::size_t c = 0; c < Cols; ++c) {
            if (!o.init) acc[r][c] = Lanes::splat(0.0f);
            else if (!o.scale) acc[r][c] = Lanes::load(o.init + (r0 + r) * o.ldi + c0 + c * L);
            else acc[r][c] = Lanes::splat(o.scale[r0 + r]) * Lanes::load(o.init + (r0 + r) * o.ldi + c0 + c * L);
        }
    for (const product_term& tm : terms) {
        const std::size_t depth = tm.causal ? std::min(tm.depth, r0 + Rows) : tm.depth;
        for (std::size_t d = 0; d < depth; ++d) {
            vec m[Cols];
            for (std::size_t c = 0; c < Cols; ++c) m[c] = Lanes::load(tm.m + d * tm.ldm + c0 + c * L);
            for (std::size_t r = 0; r < Rows; ++r) {
                const vec x = Lanes::splat(tm.x[(r0 + r) * tm.ldx + d]);
                for (std::size_t c = 0; c < Cols; ++c) acc[r][c] = Lanes::fma(x, m[c], acc[r][c]);
            }
        }
    }
    for (std::size_t r = 0; r < Rows; ++r)
        for (std::size_t c = 0; c < Cols; ++c) Lanes::store(o.out + (r0 + r) * o.ldo + c0 + c * L, acc[r][c]);
}

// The last rows % Rows rows of a column block, as one smaller tile.
template <class Lanes, std::size_t Rows, std::size_t Cols>
inline void product_rest(std::size_t rest, const product_target& o, const product_term (&terms)[2], std::size_t r0,
                         std::size_t c0) {
    if constexpr (Rows > 0) {
        if (rest == Rows) product_tile<Lanes, Rows, Cols>(o, terms, r0, c0);
        else product_rest<Lanes, Rows - 1, Cols>(rest, o, terms, r0, c0);
    }
}

// The tile shape: 4 vectors wide (or N), 4 rows with 32 vector registers (AVX-512), else 3: the
// fastest measured (bench: wkv7_chunked, wkv6_chunked), with the row of m and a broadcast beside.
template <class Lanes, std::size_t N>
struct product_shape {
    static constexpr std::size_t cols = std::min<std::size_t>(N / Lanes::lanes, 4);
    static constexpr std::size_t rows = Lanes::registers >= 32 ? 4 : 3;
    static_assert(N % (cols * Lanes::lanes) == 0);
};

template <class Lanes, std::size_t N>
inline void product(const product_target& o, const product_term (&terms)[2]) {
    using shape = product_shape<Lanes, N>;
    constexpr std::size_t block = shape::cols * Lanes::lanes;
    for (std::size_t c0 = 0; c0 < N; c0 += block) {
        std::size_t r = 0;
        for (; r + shape::rows <= o.rows; r += shape::rows)
            product_tile<Lanes, shape::rows, shape::cols>(o, terms, r, c0);
        product_rest<Lanes, shape::rows - 1, shape::cols>(o.rows - r, o, terms, r, c0);
    }
}

template <class Lanes, std::size_t N>
inline float dot(const float* x, const float* y) noexcept {
    typename Lanes::vec acc = Lanes::splat(0.0f);
    for (std::size_t c = 0; c < N; c += Lanes::lanes) acc = Lanes::fma(Lanes::load(x + c), Lanes::load(y + c), acc);
    return Lanes::sum(acc);
}

template <class Lanes>
inline void zero(float* p, std::size_t n) noexcept {  // n a multiple of Lanes::lanes
    for (std::size_t i = 0; i < n; i += Lanes::lanes) Lanes::store(p + i, Lanes::splat(0.0f));
}

// One step of a matrix of decayed key columns, [N][Lc], and the scores against it. Column s holds
// x_s ⊙ D(t − 1, s) for s < t − 1, zeros from column t − 1 on. The step multiplies every column by
// w_{t−1}, giving D(t, s) for s < t − 1 (zeros stay zeros), and adds x_{t−1} undecayed
// (D(t, t − 1) = 1) as column t − 1, through the unit vector of that lane (its other lanes add exact
// zeros). With the new columns it stores the scores out[q][s] = Σ_j rows[q][j] · cols[j][s], for q
// < Rows, whole rows of Lc lanes (zero from lane t on).
template <class Lanes, std::size_t N, std::size_t Lc, std::size_t Rows>
inline void decay_columns(float* cols, const float* w, const float* x_entering, std::size_t lane,
                          const float* const* rows, float* const* out) noexcept {
    using vec = typename Lanes::vec;
    constexpr std::size_t L = Lanes::lanes, nvs = Lc / L;
    alignas(64) float unit[Lc] = {};
    unit[lane] = 1.0f;
    vec e[nvs];
    for (std::size_t v = 0; v < nvs; ++v) e[v] = Lanes::load(unit + v * L);
    // Independent accumulators over j (`chains`), to cover the FMA latency when the rows are short.
    // The loops over them are unrolled early (the pragmas) so that the compiler keeps them in
    // registers: otherwise the vector stores to `cols`, which may alias anything, pin them to memory.
    constexpr std::size_t width = Rows * nvs, chains = Rows == 0 ? 1 : std::max<std::size_t>(1, 8 / width);
    static_assert(N % chains == 0);
    const float* row[Rows + 1] = {};  // local copies: the vector stores below may alias anything
    for (std::size_t q = 0; q < Rows; ++q) row[q] = rows[q];
    vec acc[chains * width + 1];
    for (std::size_t i = 0; i < chains * width; ++i) acc[i] = Lanes::splat(0.0f);
    for (std::size_t j0 = 0; j0 < N; j0 += chains)
#pragma GCC unroll 16
        for (std::size_t ch = 0; ch < chains; ++ch) {
            const std::size_t j = j0 + ch;
            const vec wj = Lanes::splat(w[j]), xj = Lanes::splat(x_entering[j]);
#pragma GCC unroll 16
            for (std::size_t v = 0; v < nvs; ++v) {
                float* at = cols + j * Lc + v * L;
                const vec x = Lanes::fma(xj, e[v], Lanes::load(at) * wj);
                Lanes::store(at, x);
#pragma GCC unroll 16
                for (std::size_t q = 0; q < Rows; ++q) {
                    const std::size_t i = ch * width + q * nvs + v;
                    acc[i] = Lanes::fma(Lanes::splat(row[q][j]), x, acc[i]);
                }
            }
        }
    for (std::size_t q = 0; q < Rows; ++q)
        for (std::size_t v = 0; v < nvs; ++v) {
            vec s = acc[q * nvs + v];
            for (std::size_t ch = 1; ch < chains; ++ch) s = s + acc[ch * width + q * nvs + v];
            Lanes::store(out[q] + v * L, s);
        }
}

// ---- RWKV-5/6 ---------------------------------------------------------------------------------------
template <class Lanes, std::size_t N, std::size_t Lc, class Args>
void wkv6_scan(const Args& p) {
    static_assert(Lc % Lanes::lanes == 0 && N % Lanes::lanes == 0);
    alignas(64) float r_decayed[Lc * N];  // rows r_t ⊙ D(t, −1)
    alignas(64) float total[N];           // D(len, −1)
    alignas(64) float ru[N];              // r_t ⊙ u
    alignas(64) float key_cols[N * Lc];   // [i][s]: k_s[i] · D(t, s)[i] at step t; at the end, D(len, s)
    alignas(64) float scores[Lc * Lc];    // [t][s]: A(t, s), the bonus on the diagonal, zeros above
    for (std::size_t t0 = 0; t0 < p.T; t0 += Lc) {
        const std::size_t len = std::min(Lc, p.T - t0);
        const auto r = [&](std::size_t t) { return p.r + (t0 + t) * p.ldr; };
        const auto w = [&](std::size_t t) { return p.w + (t0 + t) * p.ldw; };
        const auto k = [&](std::size_t t) { return p.k + (t0 + t) * p.ldk; };
        const float* v = p.v + t0 * p.ldv;

        for (std::size_t c = 0; c < N; c += Lanes::lanes) {
            auto decay = Lanes::splat(1.0f);
            for (std::size_t t = 0; t < len; ++t) {
                Lanes::store(r_decayed + t * N + c, Lanes::load(r(t) + c) * decay);
                decay = decay * Lanes::load(w(t) + c);
            }
            Lanes::store(total + c, decay);
        }

        zero<Lanes>(key_cols, N * Lc);
        zero<Lanes>(scores, Lc);  // token 0 sees no earlier token of the chunk
        for (std::size_t t = 1; t <= len; ++t) {
            if (t == len) {  // only the columns, for the state: k_s ⊙ D(len, s)
                decay_columns<Lanes, N, Lc, 0>(key_cols, w(t - 1), k(t - 1), t - 1, nullptr, nullptr);
                break;
            }
            const float* const rows[1] = {r(t)};
            float* const out[1] = {scores + t * Lc};
            decay_columns<Lanes, N, Lc, 1>(key_cols, w(t - 1), k(t - 1), t - 1, rows, out);
        }
        for (std::size_t t = 0; t < len; ++t) {  // the bonus: Σ_i r_t[i] u[i] k_t[i]
            for (std::size_t c = 0; c < N; c += Lanes::lanes)
                Lanes::store(ru + c, Lanes::load(r(t) + c) * Lanes::load(p.u + c));
            scores[t * Lc + t] = dot<Lanes, N>(ru, k(t));
        }

        float* y = p.y + t0 * p.ldy;
        product<Lanes, N>({y, p.ldy, len}, {{r_decayed, N, p.S, N, N, false}, {scores, Lc, v, p.ldv, len, true}});
        product<Lanes, N>({p.S, N, N, p.S, N, total}, {{key_cols, Lc, v, p.ldv, len, false}, {}});
    }
}

// dst = srcᵀ for N × N row-major matrices, by Lanes::transpose blocks of lanes × lanes, in tiles
// of 16 × 16 floats that stay in L1 (a column of a 128-float matrix walks 512-byte strides, which
// share a few cache sets).
template <class Lanes, std::size_t N>
inline void transpose(const float* src, float* dst) noexcept {
    constexpr std::size_t L = Lanes::lanes, B = std::max<std::size_t>(16, L);
    for (std::size_t i0 = 0; i0 < N; i0 += B)
        for (std::size_t j0 = 0; j0 < N; j0 += B)
            for (std::size_t i = i0; i < i0 + B; i += L)
                for (std::size_t j = j0; j < j0 + B; j += L) Lanes::transpose(src + i * N + j, N, dst + j * N + i, N);
}

// ---- RWKV-7 -----------------------------------------------------------------------------------------
template <class Lanes, std::size_t N, std::size_t Lc, class Args>
void wkv7_scan(const Args& p) {
    static_assert(Lc % Lanes::lanes == 0 && N % Lanes::lanes == 0);
    constexpr std::size_t L = Lanes::lanes;
    alignas(64) float state[N * N];                    // S transposed: [key j][value i]
    alignas(64) float decayed[2 * Lc * N];             // rows a_t ⊙ D(t, −1), then rows r_t ⊙ D(t+1, −1)
    alignas(64) float from_state[2 * Lc * N];          // S times those rows
    alignas(64) float rw[Lc * N];                      // rows r_t ⊙ w_t
    alignas(64) float total[N];                        // D(len, −1)
    alignas(64) float sa[Lc * N];                      // rows sa_t
    alignas(64) float b_cols[N * Lc], k_cols[N * Lc];  // [j][s]: b_s[j] · D(t, s)[j] at step t, k likewise
    alignas(64) float mb[Lc * Lc], mk[Lc * Lc], qb[Lc * Lc], qk[Lc * Lc];  // [t][s], zeros above

    transpose<Lanes, N>(p.S, state);

    for (std::size_t t0 = 0; t0 < p.T; t0 += Lc) {
        const std::size_t len = std::min(Lc, p.T - t0);
        const auto r = [&](std::size_t t) { return p.r + (t0 + t) * p.ldr; };
        const auto w = [&](std::size_t t) { return p.w + (t0 + t) * p.ldw; };
        const auto k = [&](std::size_t t) { return p.k + (t0 + t) * p.ldk; };
        const auto a = [&](std::size_t t) { return p.a + (t0 + t) * p.lda; };
        const auto b = [&](std::size_t t) { return p.b + (t0 + t) * p.ldb; };
        const float* v = p.v + t0 * p.ldv;

        for (std::size_t c = 0; c < N; c += L) {
            auto decay = Lanes::splat(1.0f);
            for (std::size_t t = 0; t < len; ++t) {
                Lanes::store(decayed + t * N + c, Lanes::load(a(t) + c) * decay);
                const auto wt = Lanes::load(w(t) + c);
                decay = decay * wt;
                Lanes::store(decayed + (len + t) * N + c, Lanes::load(r(t) + c) * decay);
                Lanes::store(rw + t * N + c, Lanes::load(r(t) + c) * wt);
            }
            Lanes::store(total + c, decay);
        }

        zero<Lanes>(b_cols, N * Lc);
        zero<Lanes>(k_cols, N * Lc);
        zero<Lanes>(mb, Lc), zero<Lanes>(mk, Lc), zero<Lanes>(qb, Lc), zero<Lanes>(qk, Lc);
        for (std::size_t t = 1; t <= len; ++t) {
            if (t == len) {  // only the columns, for the state: b_s ⊙ D(len, s), k likewise
                decay_columns<Lanes, N, Lc, 0>(b_cols, w(t - 1), b(t - 1), t - 1, nullptr, nullptr);
                decay_columns<Lanes, N, Lc, 0>(k_cols, w(t - 1), k(t - 1), t - 1, nullptr, nullptr);
                break;
            }
            const float* const rows[2] = {a(t), rw + t * N};
            float* const with_b[2] = {mb + t * Lc, qb + t * Lc};
            float* const with_k[2] = {mk + t * Lc, qk + t * Lc};
            decay_columns<Lanes, N, Lc, 2>(b_cols, w(t - 1), b(t - 1), t - 1, rows, with_b);
            decay_columns<Lanes, N, Lc, 2>(k_cols, w(t - 1), k(t - 1), t - 1, rows, with_k);
        }
        for (std::size_t t = 0; t < len; ++t) {  // s = t: no decay, w_t does not apply
            qb[t * Lc + t] = dot<Lanes, N>(r(t), b(t));
            qk[t * Lc + t] = dot<Lanes, N>(r(t), k(t));
        }

        // S ã_t and S r̃_t: one pass over the state for all 2·len rows.
        product<Lanes, N>({from_state, N, 2 * len}, {{decayed, N, state, N, N, false}, {}});
        // sa_t = S ã_t + Σ_{s<t} Mk(t, s) v_s, then the forward substitution over Mb.
        product<Lanes, N>({sa, N, len, from_state, N}, {{mk, Lc, v, p.ldv, len, true}, {}});
        constexpr std::size_t cols_per_block = product_shape<Lanes, N>::cols;
        for (std::size_t c0 = 0; c0 < N; c0 += cols_per_block * L)
            for (std::size_t t = 1; t < len; ++t) {
                typename Lanes::vec acc[cols_per_block];
                for (std::size_t c = 0; c < cols_per_block; ++c) acc[c] = Lanes::load(sa + t * N + c0 + c * L);
                for (std::size_t s = 0; s < t; ++s) {
                    const auto m = Lanes::splat(mb[t * Lc + s]);
                    for (std::size_t c = 0; c < cols_per_block; ++c)
                        acc[c] = Lanes::fma(m, Lanes::load(sa + s * N + c0 + c * L), acc[c]);
                }
                for (std::size_t c = 0; c < cols_per_block; ++c) Lanes::store(sa + t * N + c0 + c * L, acc[c]);
            }
        float* y = p.y + t0 * p.ldy;
        product<Lanes, N>({y, p.ldy, len, from_state + len * N, N},
                          {{qb, Lc, sa, N, len, true}, {qk, Lc, v, p.ldv, len, true}});
        product<Lanes, N>({state, N, N, state, N, total},
                          {{b_cols, Lc, sa, N, len, false}, {k_cols, Lc, v, p.ldv, len, false}});
    }

    transpose<Lanes, N>(state, p.S);
}

// The kernel-table entries: the chunked scan for the compiled-in head sizes, else `sequential`.
template <class Lanes, std::size_t Lc, class Args>
void wkv6_head(const Args& p, void (*sequential)(const Args&)) {
    switch (p.N) {
        case 32: return wkv6_scan<Lanes, 32, Lc>(p);
        case 64: return wkv6_scan<Lanes, 64, Lc>(p);
        case 128: return wkv6_scan<Lanes, 128, Lc>(p);
        default: return sequential(p);
    }
}

template <class Lanes, std::size_t Lc, class Args>
void wkv7_head(const Args& p, void (*sequential)(const Args&)) {
    switch (p.N) {
        case 32: return wkv7_scan<Lanes, 32, Lc>(p);
        case 64: return wkv7_scan<Lanes, 64, Lc>(p);
        case 128: return wkv7_scan<Lanes, 128, Lc>(p);
        default: return sequential(p);
    }
}

}  // namespace rwkv::cpu::chunked
