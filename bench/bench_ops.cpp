// Micro-benchmarks of kernel variants (Google Benchmark). Run: build/bench/rwkv-bench
//
// Shapes follow RWKV-7 0.1B (C 768, F 3072, N 64). Bytes/s counters give matvec bandwidth, which is
// what bounds decoding; items/s give tokens/s for the scans.
#include <benchmark/benchmark.h>

#include <vector>

#include "rwkv/backends/reference.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/generate/rng.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/wkv7.hpp"

namespace {

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
    rwkv::generate::rng rng(seed);
    std::vector<float> v(n);
    for (auto& x : v) x = scale * (2.0f * rng.uniform_float() - 1.0f);
    return v;
}

template <class W>
void bm_linear(benchmark::State& s) {
    const auto rows = static_cast<std::size_t>(s.range(0)), cols = static_cast<std::size_t>(s.range(1));
    const auto tokens = static_cast<std::size_t>(s.range(2));
    const auto wf = random_floats(rows * cols, 1, 0.05f);
    std::vector<W> w(wf.size());
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = rwkv::from_f32<W>(wf[i]);
    auto x = random_floats(tokens * cols, 2);
    std::vector<float> y(tokens * rows);
    const rwkv::backends::reference be;
    for (auto _ : s) {
        rwkv::ops::linear(be, rwkv::const_matrix_view<W>(w.data(), rows, cols),
                          rwkv::const_matrix_view<float>(x.data(), tokens, cols),
                          rwkv::matrix_view<float>(y.data(), tokens, rows));
        benchmark::DoNotOptimize(y.data());
    }
    s.SetBytesProcessed(static_cast<std::int64_t>(s.iterations() * rows * cols * sizeof(W)));
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations() * tokens));
}
BENCHMARK(bm_linear<float>)->Args({768, 768, 1})->Args({3072, 768, 1})->Args({768, 768, 16});
BENCHMARK(bm_linear<rwkv::bf16>)->Args({768, 768, 1})->Args({3072, 768, 1});
BENCHMARK(bm_linear<rwkv::f16>)->Args({768, 768, 1});

void bm_wkv7_scan(benchmark::State& s) {
    constexpr std::size_t N = 64;
    const std::size_t H = 12, C = H * N, T = static_cast<std::size_t>(s.range(0));
    std::vector<float> state(H * N * N);
    auto r = random_floats(T * C, 3), k = random_floats(T * C, 4), v = random_floats(T * C, 5);
    auto a = random_floats(T * C, 6, 0.1f), b = random_floats(T * C, 7, 0.1f);
    std::vector<float> w(T * C, 0.95f), y(T * C);
    const rwkv::backends::reference be;
    auto view = [&](std::vector<float>& m) { return rwkv::const_matrix_view<float>(m.data(), T, C); };
    for (auto _ : s) {
        rwkv::ops::wkv7<N>(be, rwkv::tensor3_view<float>{state.data(), H, N, N}, view(r), view(w), view(k), view(v),
                           view(a), view(b), rwkv::matrix_view<float>(y.data(), T, C));
        benchmark::DoNotOptimize(y.data());
    }
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations() * T));
}
BENCHMARK(bm_wkv7_scan)->Arg(1)->Arg(64);

void bm_layer_norm(benchmark::State& s) {
    const std::size_t C = 768, T = static_cast<std::size_t>(s.range(0));
    auto x = random_floats(T * C, 8), w = random_floats(C, 9), b = random_floats(C, 10);
    std::vector<float> y(T * C);
    const rwkv::backends::reference be;
    for (auto _ : s) {
        rwkv::ops::layer_norm(be, rwkv::const_matrix_view<float>(x.data(), T, C), w, b,
                              rwkv::matrix_view<float>(y.data(), T, C));
        benchmark::DoNotOptimize(y.data());
    }
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations() * T));
}
BENCHMARK(bm_layer_norm)->Arg(1)->Arg(64);

void bm_sample(benchmark::State& s) {
    const auto V = static_cast<std::int32_t>(s.range(0));
    auto logits = random_floats(static_cast<std::size_t>(V), 11, 5.0f);
    rwkv::generate::sampler smp({.temperature = 1.0f, .top_p = 0.9f, .top_k = static_cast<std::int32_t>(s.range(1)),
                                 .seed = 1},
                                V);
    for (auto _ : s) benchmark::DoNotOptimize(smp.sample(logits));
}
BENCHMARK(bm_sample)->Args({65536, 0})->Args({65536, 40});

}  // namespace

BENCHMARK_MAIN();
