// rwkv/backends/cpu.hpp — the fast CPU backend: SIMD kernels chosen at start-up, a thread pool.
//
// `backends::cpu` is a second implementation of the backend trait (core/backend.hpp), not a fork
// of the model code: every model<Backend, Precision> runs on it unchanged. It specialises the
// kernels that carry the time — the matrix products (every weight precision) and the WKV scans —
// with the per-ISA SIMD tables of backends/cpu/kernel_table.hpp, split over the pool's threads by
// output rows (or heads), each output computed by one fixed sequence of operations: the same bits
// for any thread count. The remaining light element-wise ops reuse the reference kernels.
//
// The pool belongs to the backend object, so to the model that holds it; copies of the backend
// share it. The host chooses the thread count: backends::cpu{4}.
//
// The WKV scans (RWKV-5/6, RWKV-7) come in two forms with the same results up to rounding: the
// sequential scan and the chunked form (backends/cpu/wkv_chunked.hpp). set_wkv_scan picks one
// or leaves the choice per call to the measured rule (cpu_detail::chunked_wkv_is_faster); the
// environment variable RWKV_CPU_WKV=automatic|sequential|chunked sets the default, for benchmarks and
// for running a whole test suite on either form.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "rwkv/backends/cpu/kernel_table.hpp"
#include "rwkv/backends/reference.hpp"
#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/core/thread_pool.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/wkv6.hpp"
#include "rwkv/ops/wkv7.hpp"

namespace rwkv::backends {

// Which form of the WKV scans runs: per call the faster for its shape, or always one of them.
enum class wkv_variant { automatic, sequential, chunked };
inline constexpr std::array<std::string_view, 3> wkv_variant_names{"automatic", "sequential", "chunked"};

inline wkv_variant parse_wkv_variant(std::string_view s) {
    for (std::size_t i = 0; i < wkv_variant_names.size(); ++i)
        if (wkv_variant_names[i] == s) return static_cast<wkv_variant>(i);
    throw invalid_argument("unknown WKV variant '" + std::string(s) + "' (expected automatic, sequential, chunked)");
}

// RWKV_CPU_WKV, read once; automatic when unset.
inline wkv_variant default_wkv_variant() {
    static const wkv_variant v = [] {
        const char* env = std::getenv("RWKV_CPU_WKV");
        return env && *env ? parse_wkv_variant(env) : wkv_variant::automatic;
    }();
    return v;
}

// Derives from `reference` so that light ops may reuse its kernels (a cpu converts to reference&).
struct cpu : reference {
    static constexpr std::string_view name = "cpu";

    cpu() : cpu(1) {}
    explicit cpu(std::size_t threads) : pool_(std::make_shared<thread_pool>(threads)), kernels_(&rwkv::cpu::kernels()) {}
    cpu(std::size_t threads, rwkv::cpu::isa instruction_set)
        : pool_(std::make_shared<thread_pool>(threads)), kernels_(&rwkv::cpu::kernels_for(instruction_set)) {}

    std::size_t threads() const noexcept { return pool_->size(); }
    const rwkv::cpu::kernel_table& kernels() const noexcept { return *kernels_; }
    std::string_view instruction_set() const noexcept { return rwkv::cpu::isa_names[static_cast<int>(kernels_->id)]; }

    // The form of the WKV scans; a copy of the backend (the one a model holds) keeps it.
    void set_wkv_scan(wkv_variant v) noexcept { wkv_ = v; }
    wkv_variant wkv_scan() const noexcept { return wkv_; }

    // Splits [0, n) into at most threads() contiguous ranges whose boundaries are multiples of
    // `align`, none smaller than `min_items` (small problems stay on the calling thread), and
    // calls fn(begin, end) for each, in parallel.
    template <class Fn>
    void parallel_ranges(std::size_t n, std::size_t align, std::size_t min_items, Fn&& fn) const {
        const std::size_t by_size = std::max<std::size_t>(1, n / std::max<std::size_t>(1, min_items));
        const std::size_t tasks = std::min(pool_->size(), by_size);
        if (tasks <= 1) {
            fn(std::size_t{0}, n);
            return;
        }
        const std::size_t units = (n + align - 1) / align;
        pool_->run(tasks, [&](std::size_t i) {
            const std::size_t b = std::min(n, units * i / tasks * align), e = std::min(n, units * (i + 1) / tasks * align);
            if (b < e) fn(b, e);
        });
    }

private:
    std::shared_ptr<thread_pool> pool_;
    const rwkv::cpu::kernel_table* kernels_;
    wkv_variant wkv_ = default_wkv_variant();
};

}  // namespace rwkv::backends

namespace rwkv::ops {

namespace cpu_detail {

// Work (multiply-adds) below which a matrix product stays on one thread.
inline constexpr std::size_t min_work_per_thread = 1 << 15;

// Splits a product's `outputs` (rows of W·x: align 16; columns of x·M: align 64, two int4/int8
// blocks) over the threads, each output costing `work_per_output` multiply-adds.
template <class Fn>
void split_outputs(const backends::cpu& be, std::size_t outputs, std::size_t align, std::size_t work_per_output,
                   Fn&& fn) {
    const std::size_t per = std::max<std::size_t>(1, work_per_output);
    be.parallel_ranges(outputs, align, std::max(align, min_work_per_thread / per), std::forward<Fn>(fn));
}

template <class W>
auto gemm_fn(const rwkv::cpu::kernel_table& k) {
    if constexpr (std::is_same_v<W, float>) return k.gemm_f32;
    else if constexpr (std::is_same_v<W, bf16>) return k.gemm_bf16;
    else return k.gemm_f16;
}
template <class W>
auto project_fn(const rwkv::cpu::kernel_table& k) {
    if constexpr (std::is_same_v<W, float>) return k.project_f32;
    else if constexpr (std::is_same_v<W, bf16>) return k.project_bf16;
    else return k.project_f16;
}
template <class W>
auto raw(const W* p) noexcept {
    if constexpr (std::is_same_v<W, float>) return p;
    else return reinterpret_cast<const std::uint16_t*>(p);  // bf16 and f16 are one uint16_t of bits
}

}  // namespace cpu_detail

template <class W>
    requires(std::is_same_v<W, float> || std::is_same_v<W, bf16> || std::is_same_v<W, f16>)
struct linear_kernel<backends::cpu, W> {
    static void linear(const backends::cpu& be, const_matrix_view<W> weight, const_matrix_view<float> x,
                       matrix_view<float> y) {
        const auto gemm = cpu_detail::gemm_fn<W>(be.kernels());
        cpu_detail::split_outputs(be, weight.rows, 16, weight.cols * x.rows, [&](std::size_t o0, std::size_t o1) {
            gemm(cpu_detail::raw(weight.data), weight.stride, x.data, x.stride, y.data, y.stride, x.rows, o0, o1,
                 weight.cols);
        });
    }

    static void project(const backends::cpu& be, const_matrix_view<float> x, const_matrix_view<W> m,
                        matrix_view<float> y) {
        const auto proj = cpu_detail::project_fn<W>(be.kernels());
        cpu_detail::split_outputs(be, m.cols, 64, m.rows * x.rows, [&](std::size_t o0, std::size_t o1) {
            proj(x.data, x.stride, cpu_detail::raw(m.data), m.stride, y.data, y.stride, x.rows, m.rows, o0, o1);
        });
    }
};

// Block-quantized weights (core/quant.hpp): the SIMD block kernels for W·x and for x·M (the LoRA
// factors, quantized along their output dimension).
template <quant_format Q>
struct linear_kernel<backends::cpu, Q> {
    static void linear(const backends::cpu& be, const_matrix_view<Q> weight, const_matrix_view<float> x,
                       matrix_view<float> y) {
        const auto gemm = Q::bits == 8 ? be.kernels().gemm_int8 : be.kernels().gemm_int4;
        const auto rows = weight.kernel_rows();
        cpu_detail::split_outputs(be, weight.rows, 16, weight.cols * x.rows, [&](std::size_t o0, std::size_t o1) {
            gemm(rows, x.data, x.stride, y.data, y.stride, x.rows, o0, o1, weight.cols);
        });
    }

    static void project(const backends::cpu& be, const_matrix_view<float> x, const_matrix_view<Q> m,
                        matrix_view<float> y) {
        const auto proj = Q::bits == 8 ? be.kernels().project_int8 : be.kernels().project_int4;
        const auto rows = m.kernel_rows();
        cpu_detail::split_outputs(be, m.cols, 64, m.rows * x.rows, [&](std::size_t o0, std::size_t o1) {
            proj(x.data, x.stride, rows, y.data, y.stride, x.rows, m.rows, o0, o1);
        });
    }
};

namespace cpu_detail {

// The fields every WKV head scan takes: head h's state and its channels of r, w, k, v, y.
template <std::size_t N>
rwkv::cpu::wkv_head_args head_args(tensor3_view<float> state, std::size_t h, const_matrix_view<float> r,
                                   const_matrix_view<float> w, const_matrix_view<float> k,
                                   const_matrix_view<float> v, matrix_view<float> y) noexcept {
    const std::size_t c0 = h * N;
    rwkv::cpu::wkv_head_args p;
    p.S = state.slice(h).data;
    p.N = N;
    p.T = r.rows;
    p.r = r.data + c0, p.w = w.data + c0, p.k = k.data + c0, p.v = v.data + c0;
    p.ldr = r.stride, p.ldw = w.stride, p.ldk = k.stride, p.ldv = v.stride;
    p.y = y.data + c0;
    p.ldy = y.stride;
    return p;
}

// Heads per thread: at least enough state (N² floats × T tokens) to pay for a hand-off.
template <std::size_t N>
std::size_t min_heads(std::size_t T) noexcept {
    return std::max<std::size_t>(1, 8192 / (N * N * std::max<std::size_t>(1, T)));
}

// The automatic rule: whether the chunked scan beats the sequential one for a call of T tokens.
// Measured per instruction set on an AMD Zen 5, the kernels alone (as bench/bench_ops.cpp's
// wkv*_sequential and wkv*_chunked run them), 768 channels in heads of 32, 64 and 128, T = 1 … 512;
// speed-ups of the chunked form (ranges over the head sizes):
//   AVX-512, AVX2: RWKV-5/6 ×1.0–1.4 at T = 2 and ×1.8–3.5 from T = 16; RWKV-7 ×1.1–1.5 at T = 4
//                  and ×1.1–3 from T = 16, mostly slower below; decoding (T = 1) ×0.6–1.05.
//   SSE2: RWKV-5/6 ×1.05–1.3 from T = 8; RWKV-7 ×0.8–1.0 below N = 128 (×1.1 at 128): sequential.
//   portable: RWKV-5/6 ×1.6 at T = 1 and ×2.2–2.7 beyond (the plain-loop scan is slow); RWKV-7
//             ×0.5–1.05: sequential.
// The head size moves the crossovers by a token or two, so it is not an input.
inline bool chunked_wkv_is_faster(rwkv::cpu::isa isa, bool rwkv7, std::size_t T) noexcept {
    switch (isa) {
        case rwkv::cpu::isa::avx512:
        case rwkv::cpu::isa::avx2: return T >= (rwkv7 ? 4 : 2);
        case rwkv::cpu::isa::sse2: return !rwkv7 && T >= 8;
        case rwkv::cpu::isa::portable: return !rwkv7;
    }
    return false;
}

// The scan a call of T tokens runs.
inline auto wkv_scan_fn(const backends::cpu& be, bool rwkv7, std::size_t T) {
    const auto& k = be.kernels();
    bool chunked = be.wkv_scan() == backends::wkv_variant::chunked;
    if (be.wkv_scan() == backends::wkv_variant::automatic) chunked = chunked_wkv_is_faster(k.id, rwkv7, T);
    return rwkv7 ? (chunked ? k.wkv7_chunked : k.wkv7_head) : (chunked ? k.wkv6_chunked : k.wkv6_head);
}

}  // namespace cpu_detail

namespace cpu_detail {

// Runs scan_head(state, h, row slice) for every (agent, head) pair of a batch, the pairs spread
// over the threads. Each agent's scan form follows its own row count, so an agent's bits do not
// depend on the batch.
template <std::size_t N, class ScanHead>
void for_each_agent_head(const backends::cpu& be, const state_slots& state, std::size_t total_rows,
                         std::size_t channels, bool rwkv7, ScanHead&& scan_head) {
    const std::size_t H = channels / N, B = state.agents;
    const std::size_t rows_per_agent = std::max<std::size_t>(1, total_rows / B);
    be.parallel_ranges(B * H, 1, min_heads<N>(rows_per_agent), [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            const std::size_t g = i / H, h = i % H;
            const auto [first, n] = state.rows_of(g, total_rows);
            if (n == 0) continue;
            scan_head(wkv_scan_fn(be, rwkv7, n), tensor3_view<float>{state.agent(g), H, N, N}, h, first, n);
        }
    });
}

}  // namespace cpu_detail

// The WKV scans: heads (and agents) are independent, so they are spread over the threads. Head
// sizes below the SIMD tiles (small test models) take the reference scans.
inline constexpr std::size_t min_simd_head_size = 32;

template <std::size_t N>
    requires(N < min_simd_head_size)
struct wkv7_kernel<backends::cpu, N> : wkv7_kernel<backends::reference, N> {};

template <std::size_t N>
    requires(N < min_simd_head_size)
struct wkv6_kernel<backends::cpu, N> : wkv6_kernel<backends::reference, N> {};

template <std::size_t N>
    requires(N >= min_simd_head_size)
struct wkv7_kernel<backends::cpu, N> {
    static void run(const backends::cpu& be, tensor3_view<float> state, const_matrix_view<float> r,
                    const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                    const_matrix_view<float> a, const_matrix_view<float> b, matrix_view<float> y) {
        run_agents(be, state_slots::one(state.data), r, w, k, v, a, b, y);
    }

    static void run_agents(const backends::cpu& be, const state_slots& state, const_matrix_view<float> r,
                           const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                           const_matrix_view<float> a, const_matrix_view<float> b, matrix_view<float> y) {
        cpu_detail::for_each_agent_head<N>(
            be, state, r.rows, r.cols, true,
            [&](auto scan, tensor3_view<float> S, std::size_t h, std::size_t first, std::size_t n) {
                auto rows = [first, n](auto m) { return m.rows_slice(first, n); };
                auto p = cpu_detail::head_args<N>(S, h, rows(r), rows(w), rows(k), rows(v), rows(y));
                p.a = rows(a).data + h * N, p.b = rows(b).data + h * N;
                p.lda = a.stride, p.ldb = b.stride;
                scan(p);
            });
    }
};

template <std::size_t N>
    requires(N >= min_simd_head_size)
struct wkv6_kernel<backends::cpu, N> {
    static void run(const backends::cpu& be, tensor3_view<float> state, const_matrix_view<float> r,
                    const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                    std::span<const float> u, matrix_view<float> y) {
        run_agents(be, state_slots::one(state.data), r, w, k, v, u, y);
    }

    static void run_agents(const backends::cpu& be, const state_slots& state, const_matrix_view<float> r,
                           const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                           std::span<const float> u, matrix_view<float> y) {
        cpu_detail::for_each_agent_head<N>(
            be, state, r.rows, r.cols, false,
            [&](auto scan, tensor3_view<float> S, std::size_t h, std::size_t first, std::size_t n) {
                auto rows = [first, n](auto m) { return m.rows_slice(first, n); };
                auto p = cpu_detail::head_args<N>(S, h, rows(r), rows(w), rows(k), rows(v), rows(y));
                p.u = u.data() + h * N;
                scan(p);
            });
    }
};

// Light ops: the reference kernels (they take the cpu backend as its `reference` base).
// Element-wise maps and row norms: the reference arithmetic, rows spread over the threads (each
// row computed as the reference computes it, so any split gives the same bits).
namespace cpu_detail {
inline constexpr std::size_t min_elements_per_thread = 1 << 14;
template <class Fn>
void split_rows(const backends::cpu& be, std::size_t rows, std::size_t cols, Fn&& fn) {
    be.parallel_ranges(rows, 1, std::max<std::size_t>(1, min_elements_per_thread / std::max<std::size_t>(1, cols)),
                       std::forward<Fn>(fn));
}
}  // namespace cpu_detail

template <>
struct map_kernel<backends::cpu> {
    template <class Fn, class... In>
    static void run(const backends::cpu& be, matrix_view<float> out, Fn& fn, const In&... in) {
        cpu_detail::split_rows(be, out.rows, out.cols, [&](std::size_t t0, std::size_t t1) {
            for (std::size_t t = t0; t < t1; ++t) {
                float* row = out.data + t * out.stride;
                for (std::size_t c = 0; c < out.cols; ++c) row[c] = fn(element(in, t, c)...);
            }
        });
    }
};

template <>
struct norm_kernel<backends::cpu> {
    using ref = norm_kernel<backends::reference>;
    static void group_norm(const backends::cpu& be, const_matrix_view<float> x, std::span<const float> weight,
                           std::span<const float> bias, std::size_t groups, float eps, matrix_view<float> y) {
        cpu_detail::split_rows(be, x.rows, x.cols, [&](std::size_t t0, std::size_t t1) {
            ref::group_norm(be, x.rows_slice(t0, t1 - t0), weight, bias, groups, eps, y.rows_slice(t0, t1 - t0));
        });
    }
    static void rms_norm(const backends::cpu& be, const_matrix_view<float> x, matrix_view<float> y, float eps) {
        cpu_detail::split_rows(be, x.rows, x.cols, [&](std::size_t t0, std::size_t t1) {
            ref::rms_norm(be, x.rows_slice(t0, t1 - t0), y.rows_slice(t0, t1 - t0), eps);
        });
    }
    static void l2_normalize_groups(const backends::cpu& be, matrix_view<float> x, std::size_t n, float eps) {
        cpu_detail::split_rows(be, x.rows, x.cols, [&](std::size_t t0, std::size_t t1) {
            ref::l2_normalize_groups(be, x.rows_slice(t0, t1 - t0), n, eps);
        });
    }
};
template <>
struct cache_kernel<backends::cpu> : cache_kernel<backends::reference> {};
template <> struct embedding_kernel<backends::cpu> : embedding_kernel<backends::reference> {};
template <> struct token_shift_kernel<backends::cpu> : token_shift_kernel<backends::reference> {};
template <> struct wkv4_kernel<backends::cpu> : wkv4_kernel<backends::reference> {};
template <> struct wkv7_bonus_kernel<backends::cpu> : wkv7_bonus_kernel<backends::reference> {};
template <std::size_t N> struct gold_attention_kernel<backends::cpu, N> : gold_attention_kernel<backends::reference, N> {};

}  // namespace rwkv::ops
