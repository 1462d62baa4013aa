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
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include "rwkv/backends/cpu/kernel_table.hpp"
#include "rwkv/backends/reference.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/core/thread_pool.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/wkv6.hpp"
#include "rwkv/ops/wkv7.hpp"

namespace rwkv::backends {

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

}  // namespace cpu_detail

// The WKV scans: heads are independent, so they are spread over the threads.
template <std::size_t N>
struct wkv7_kernel<backends::cpu, N> {
    static void run(const backends::cpu& be, tensor3_view<float> state, const_matrix_view<float> r,
                    const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                    const_matrix_view<float> a, const_matrix_view<float> b, matrix_view<float> y) {
        const auto scan = be.kernels().wkv7_head;
        be.parallel_ranges(state.d0, 1, cpu_detail::min_heads<N>(r.rows), [&](std::size_t h0, std::size_t h1) {
            for (std::size_t h = h0; h < h1; ++h) {
                auto p = cpu_detail::head_args<N>(state, h, r, w, k, v, y);
                p.a = a.data + h * N, p.b = b.data + h * N;
                p.lda = a.stride, p.ldb = b.stride;
                scan(p);
            }
        });
    }
};

template <std::size_t N>
struct wkv6_kernel<backends::cpu, N> {
    static void run(const backends::cpu& be, tensor3_view<float> state, const_matrix_view<float> r,
                    const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                    std::span<const float> u, matrix_view<float> y) {
        const auto scan = be.kernels().wkv6_head;
        be.parallel_ranges(state.d0, 1, cpu_detail::min_heads<N>(r.rows), [&](std::size_t h0, std::size_t h1) {
            for (std::size_t h = h0; h < h1; ++h) {
                auto p = cpu_detail::head_args<N>(state, h, r, w, k, v, y);
                p.u = u.data() + h * N;
                scan(p);
            }
        });
    }
};

// Light ops: the reference kernels (they take the cpu backend as its `reference` base).
template <> struct map_kernel<backends::cpu> : map_kernel<backends::reference> {};
template <> struct norm_kernel<backends::cpu> : norm_kernel<backends::reference> {};
template <> struct embedding_kernel<backends::cpu> : embedding_kernel<backends::reference> {};
template <> struct token_shift_kernel<backends::cpu> : token_shift_kernel<backends::reference> {};
template <> struct wkv4_kernel<backends::cpu> : wkv4_kernel<backends::reference> {};
template <> struct wkv7_bonus_kernel<backends::cpu> : wkv7_bonus_kernel<backends::reference> {};
template <std::size_t N> struct gold_attention_kernel<backends::cpu, N> : gold_attention_kernel<backends::reference, N> {};

}  // namespace rwkv::ops
