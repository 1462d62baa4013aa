// How to try a new kernel: write it as a backend specialisation, check it against the backends that
// exist, and measure it beside them with Google Benchmark.
//
//   rwkv-example-kernel-variants [MODEL.safetensors] [--benchmark_filter=...] [--benchmark_min_time=...]
//
// The variant here is a "row-stationary" RWKV-7 WKV scan. In the generalized delta rule
// (ops/wkv7.hpp; RWKV-7 paper, arXiv 2503.14456)
//     sa[i]   = Σ_j S[i][j] a[j]
//     S[i][j] = S[i][j] w[j] + sa[i] b[j] + v[i] k[j]
//     y[i]    = Σ_j S[i][j] r[j]
// row i of a head's state S only ever meets its own sa[i], v[i] and y[i]: rows are independent. So one
// row can stay in local memory (registers, for N = 64) for the whole sequence, reading r, w, k, a, b of
// each token from cache, and the rows of all heads can be shared out among threads without any
// synchronisation. Whether that beats the cpu backend's head-at-a-time SIMD scans is what the
// benchmark is for.
//
// The recipe, for any op of ops/:
//   1. a backend type: here `row_stationary`, which derives from backends::cpu so it keeps its thread
//      pool, its memory space (host) and every kernel it does not replace;
//   2. for each op the models call, a kernel specialisation for the new backend: the replaced one
//      (wkv7_kernel) written out, the others inherited from the cpu backend's (one line each);
//   3. a correctness check against the existing backends before any timing (main() below);
//   4. Google Benchmark cases, templated on the backend, at the shapes that matter (decode: T = 1;
//      prefill chunks: T = 16), and, with a model file, whole decode steps.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/rwkv7.hpp"

// 1. The backend.
struct row_stationary : rwkv::backends::cpu {
    static constexpr std::string_view name = "cpu+row-stationary-wkv7";
    using cpu::cpu;
};

namespace rwkv::ops {

// 2a. The new kernel. Views are [T, H·N] rows (r, w, k, v, a, b, y) and the state [H, N, N].
template <std::size_t N>
struct wkv7_kernel<row_stationary, N> {
    static void run(const row_stationary& be, tensor3_view<float> state, const_matrix_view<float> r,
                    const_matrix_view<float> w, const_matrix_view<float> k, const_matrix_view<float> v,
                    const_matrix_view<float> a, const_matrix_view<float> b, matrix_view<float> y) {
        const std::size_t heads = state.d0, T = r.rows;
        // Units of work are (head, row) pairs; 8 rows per unit keeps a unit's writes to y in one
        // cache line, and each row is computed the same way on any thread (same bits at any count).
        be.parallel_ranges(heads * N, 8, 64, [&](std::size_t first, std::size_t last) {
            for (std::size_t unit = first; unit < last; ++unit) {
                const std::size_t h = unit / N, i = unit % N, c = h * N;
                float* row_in_state = state.data + (h * N + i) * N;
                std::array<float, N> s;
                std::copy_n(row_in_state, N, s.begin());
                for (std::size_t t = 0; t < T; ++t) {
                    const float* wt = w.data + t * w.stride + c;
                    const float* kt = k.data + t * k.stride + c;
                    const float* at = a.data + t * a.stride + c;
                    const float* bt = b.data + t * b.stride + c;
                    const float* rt = r.data + t * r.stride + c;
                    const float vi = v.data[t * v.stride + c + i];
                    float sa = 0.0f;
                    for (std::size_t j = 0; j < N; ++j) sa += s[j] * at[j];
                    float yi = 0.0f;
                    for (std::size_t j = 0; j < N; ++j) {
                        s[j] = s[j] * wt[j] + sa * bt[j] + vi * kt[j];
                        yi += s[j] * rt[j];
                    }
                    y.data[t * y.stride + c + i] = yi;
                }
                std::copy_n(s.begin(), N, row_in_state);
            }
        });
    }
};

// 2b. Every other kernel RWKV-7 calls: the cpu backend's (they take a backends::cpu&, which this
// backend is). A model asking for a kernel not listed here does not compile, by design.
template <class W> struct linear_kernel<row_stationary, W> : linear_kernel<backends::cpu, W> {};
template <> struct map_kernel<row_stationary> : map_kernel<backends::cpu> {};
template <> struct norm_kernel<row_stationary> : norm_kernel<backends::cpu> {};
template <> struct embedding_kernel<row_stationary> : embedding_kernel<backends::cpu> {};
template <> struct token_shift_kernel<row_stationary> : token_shift_kernel<backends::cpu> {};
template <> struct wkv7_bonus_kernel<row_stationary> : wkv7_bonus_kernel<backends::cpu> {};

}  // namespace rwkv::ops

namespace {

// Random WKV-7 inputs for H heads of size 64 and T tokens, in the ranges a real model produces
// (decay w in (0, 1); a = −κ̂ and b = κ̂·α from a unit vector κ̂ and α in (0, 1)).
struct wkv7_inputs {
    static constexpr std::size_t N = 64;
    std::size_t heads, T, C = heads * N;
    std::vector<float> r, w, k, v, a, b, y, state;

    wkv7_inputs(std::size_t n_heads, std::size_t n_tokens) : heads(n_heads), T(n_tokens) {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> sym(-1.0f, 1.0f), unit(0.0f, 1.0f);
        auto fill = [&](std::vector<float>& x, auto&& draw) {
            x.resize(T * C);
            for (auto& e : x) e = draw();
        };
        fill(r, [&] { return sym(rng); });
        fill(k, [&] { return sym(rng); });
        fill(v, [&] { return sym(rng); });
        fill(w, [&] { return std::exp(-0.6f * unit(rng)); });
        a.resize(T * C), b.resize(T * C), y.assign(T * C, 0.0f), state.assign(heads * N * N, 0.0f);
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t h = 0; h < heads; ++h) {
                float norm = 0.0f;
                std::array<float, N> kk;
                for (auto& e : kk) {
                    e = sym(rng);
                    norm += e * e;
                }
                for (std::size_t j = 0; j < N; ++j) {
                    const std::size_t at = t * C + h * N + j;
                    a[at] = -kk[j] / std::sqrt(norm);
                    b[at] = -a[at] * unit(rng);
                }
            }
    }

    template <class Backend>
    void run(const Backend& be) {
        using view = rwkv::const_matrix_view<float>;
        rwkv::ops::wkv7<N>(be, rwkv::tensor3_view<float>{state.data(), heads, N, N}, view(r.data(), T, C),
                           view(w.data(), T, C), view(k.data(), T, C), view(v.data(), T, C), view(a.data(), T, C),
                           view(b.data(), T, C), rwkv::matrix_view<float>(y.data(), T, C));
    }
};

// 4a. The op alone: args are {heads, tokens, threads}.
template <class Backend>
void wkv7_scan(benchmark::State& bench) {
    wkv7_inputs in(static_cast<std::size_t>(bench.range(0)), static_cast<std::size_t>(bench.range(1)));
    const Backend be(static_cast<std::size_t>(bench.range(2)));
    for (auto _ : bench) {
        in.run(be);
        benchmark::DoNotOptimize(in.y.data());
    }
    // Per token and head: 4 passes over the N×N state (read for sa, update, read for y) ≈ 6 N² flops.
    bench.counters["GFLOP/s"] = benchmark::Counter(
        6.0 * static_cast<double>(in.heads * in.T * in.N * in.N) * static_cast<double>(bench.iterations()) * 1e-9,
        benchmark::Counter::kIsRate);
}

void wkv7_shapes(benchmark::internal::Benchmark* b) {
    for (long threads : {1, 2})
        for (long tokens : {1, 16}) b->Args({12, tokens, threads});  // 12 heads = C 768 (0.1B models)
}
BENCHMARK(wkv7_scan<rwkv::backends::cpu>)->Apply(wkv7_shapes)->ArgNames({"heads", "T", "threads"});
BENCHMARK(wkv7_scan<row_stationary>)->Apply(wkv7_shapes)->ArgNames({"heads", "T", "threads"});

// 4b. Whole decode steps of a model file on each backend (registered in main when a model is given).
template <class Backend>
void decode_step(benchmark::State& bench, const std::string& path) {
    const auto model = rwkv::rwkv7::model<Backend>::load(path, Backend(static_cast<std::size_t>(bench.range(0))));
    auto state = model.make_state();
    auto ws = model.make_workspace();
    std::vector<float> logits(model.cfg().n_vocab);
    std::int32_t token = 0;
    for (auto _ : bench) {
        model.forward(std::span(&token, 1), state, ws, logits);
        token = (token + 1) % static_cast<std::int32_t>(model.cfg().n_vocab);
    }
    bench.counters["tokens/s"] = benchmark::Counter(static_cast<double>(bench.iterations()), benchmark::Counter::kIsRate);
}

// 3. Before any timing: the variant must compute what the cpu backend computes.
float max_difference_from_cpu() {
    wkv7_inputs mine(12, 16), theirs(12, 16);
    mine.run(row_stationary(2));
    theirs.run(rwkv::backends::cpu(1));
    float diff = 0.0f;
    for (std::size_t i = 0; i < mine.y.size(); ++i) diff = std::max(diff, std::abs(mine.y[i] - theirs.y[i]));
    for (std::size_t i = 0; i < mine.state.size(); ++i)
        diff = std::max(diff, std::abs(mine.state[i] - theirs.state[i]));
    return diff;
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);  // removes the --benchmark_* flags it knows
    try {
        const float diff = max_difference_from_cpu();
        std::printf("row-stationary WKV-7 vs the cpu backend (12 heads, 16 tokens): max |difference| %.3g\n",
                    static_cast<double>(diff));
        if (!(diff <= 1e-4f)) {
            std::fprintf(stderr, "error: the variant does not match the cpu backend; not benchmarking it\n");
            return 1;
        }
        if (argc > 1) {  // a model file: whole decode steps too, after checking the logits agree
            const std::string path = argv[1];
            const std::vector<std::int32_t> prompt{72, 101, 108, 108, 111};
            auto mine = rwkv::rwkv7::model<row_stationary>::load(path, row_stationary(1));
            auto theirs = rwkv::rwkv7::model<rwkv::backends::cpu>::load(path, rwkv::backends::cpu(1));
            auto s1 = mine.make_state();
            auto s2 = theirs.make_state();
            const auto l1 = mine.forward(prompt, s1), l2 = theirs.forward(prompt, s2);
            float logit_diff = 0.0f;
            for (std::size_t i = 0; i < l1.size(); ++i) logit_diff = std::max(logit_diff, std::abs(l1[i] - l2[i]));
            std::printf("%s: logits after a 5-token prompt, max |difference| %.3g\n", path.c_str(),
                        static_cast<double>(logit_diff));
            if (!(logit_diff <= 1e-3f)) return 1;
            for (long threads : {1, 2}) {
                benchmark::RegisterBenchmark("decode_step<cpu>", decode_step<rwkv::backends::cpu>, path)->Arg(threads);
                benchmark::RegisterBenchmark("decode_step<row_stationary>", decode_step<row_stationary>, path)
                    ->Arg(threads);
            }
        }
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
    } catch (const rwkv::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
