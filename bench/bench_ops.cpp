// Micro-benchmarks of every kernel variant (Google Benchmark). Run: build/bench/rwkv-bench
//   (--benchmark_filter=REGEX to pick, --benchmark_min_time=0.1 for a quick pass)
//
// Shapes follow RWKV-7 0.1B: C 768, F 3072 (FFN 4C), N 64 (12 heads), V 65536 (the head matvec).
// Variants: the reference backend and the cpu backend at each instruction set this machine runs
// (portable, sse2, avx2, avx512; the others are reported as skipped), one thread unless
// RWKV_BENCH_THREADS says otherwise.
//   linear/<backend>/<W>/<rows>x<cols>/T:<T>   y = W·x through ops::linear, W in f32, bf16, f16.
//                                              T = 1 is a matvec (decode): bytes/s = weight bytes
//                                              read per second, what bounds decoding. T = 16, 64 is
//                                              a small-batch matmul (prefill): FLOP/s counter.
//   gemm_int8|gemm_int4/<isa>/...               the kernel table's block-quantized products (what
//                                              ops::linear runs for int8/int4 weights; x is quantized
//                                              to int8 blocks inside), called directly: bytes/s counts
//                                              codes + scales.
//   project/<backend>/f32/...                   x·M, the LoRA products (C → 64 ... 128).
//   wkv7|wkv6/<backend>/T:<T>                   the matrix-state scans, 12 heads of 64, as the
//                                              backend runs them (cpu: the automatic choice); items/s
//                                              = tokens/s.
//   wkv7_sequential|wkv7_chunked|wkv6_.../cpu/<isa>/T:<T>
//                                              the same with the cpu backend's WKV form forced: the
//                                              measurements behind its automatic rule.
//   layer_norm, group_norm, sample              unchanged light ops (cpu reuses the reference ones).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/backends/cpu/kernel_table.hpp"
#include "rwkv/backends/reference.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/generate/rng.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/wkv6.hpp"
#include "rwkv/ops/wkv7.hpp"

namespace {

constexpr std::size_t C = 768, F = 3072, V = 65536, N = 64, H = C / N;

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
    rwkv::generate::rng rng(seed);
    std::vector<float> v(n);
    for (auto& x : v) x = scale * (2.0f * rng.uniform_float() - 1.0f);
    return v;
}

std::size_t bench_threads() {
    if (const char* e = std::getenv("RWKV_BENCH_THREADS"); e && *e) {
        const long n = std::strtol(e, nullptr, 10);
        if (n >= 1 && n <= 1024) return static_cast<std::size_t>(n);
    }
    return 1;
}

// ---- backends --------------------------------------------------------------------------------------
// A variant: the reference backend, or the cpu backend at one instruction set.
struct backend_variant {
    std::string name;
    std::optional<rwkv::cpu::isa> isa;  // nullopt: reference
};

std::vector<backend_variant> variants() {
    std::vector<backend_variant> v{{"reference", std::nullopt}};
    for (std::size_t i = 0; i < rwkv::cpu::isa_names.size(); ++i)
        v.push_back({"cpu/" + std::string(rwkv::cpu::isa_names[i]), static_cast<rwkv::cpu::isa>(i)});
    return v;
}

// The cpu backend for `i`, or nullptr after SkipWithError when this build or CPU lacks it.
std::unique_ptr<rwkv::backends::cpu> make_cpu(benchmark::State& s, rwkv::cpu::isa i) {
    try {
        return std::make_unique<rwkv::backends::cpu>(bench_threads(), i);
    } catch (const std::exception& e) {
        s.SkipWithError(e.what());
        return nullptr;
    }
}

const rwkv::cpu::kernel_table* table_or_skip(benchmark::State& s, rwkv::cpu::isa i) {
    try {
        return &rwkv::cpu::kernels_for(i);
    } catch (const std::exception& e) {
        s.SkipWithError(e.what());
        return nullptr;
    }
}

// Runs body(backend) with the variant's backend.
template <class Body>
void with_backend(benchmark::State& s, const backend_variant& v, Body&& body) {
    if (!v.isa) {
        body(rwkv::backends::reference{});
        return;
    }
    const auto be = make_cpu(s, *v.isa);
    if (be) body(*be);
}

// Weights are shared between benchmarks (the head alone is 50 M values).
template <class W>
const std::vector<W>& weights(std::size_t rows, std::size_t cols) {
    static std::map<std::pair<std::size_t, std::size_t>, std::vector<W>> cache;
    auto& w = cache[{rows, cols}];
    if (w.empty()) {
        const auto f = random_floats(rows * cols, rows * 131 + cols, 0.05f);
        w.resize(f.size());
        for (std::size_t i = 0; i < w.size(); ++i) w[i] = rwkv::from_f32<W>(f[i]);
    }
    return w;
}

void set_matrix_counters(benchmark::State& s, std::size_t rows, std::size_t cols, std::size_t T, double weight_bytes) {
    const auto it = static_cast<double>(s.iterations());
    s.SetBytesProcessed(static_cast<std::int64_t>(it * weight_bytes));
    s.SetItemsProcessed(static_cast<std::int64_t>(it * static_cast<double>(T)));
    s.counters["FLOP/s"] = benchmark::Counter(it * 2.0 * static_cast<double>(rows * cols * T), benchmark::Counter::kIsRate);
}

// ---- matrix products -------------------------------------------------------------------------------
template <class W>
void bm_linear(benchmark::State& s, const backend_variant& v, std::size_t rows, std::size_t cols, std::size_t T) {
    const auto& w = weights<W>(rows, cols);
    const auto x = random_floats(T * cols, 2);
    std::vector<float> y(T * rows);
    with_backend(s, v, [&](const auto& be) {
        for (auto _ : s) {
            rwkv::ops::linear(be, rwkv::const_matrix_view<W>(w.data(), rows, cols),
                              rwkv::const_matrix_view<float>(x.data(), T, cols), rwkv::matrix_view<float>(y.data(), T, rows));
            benchmark::DoNotOptimize(y.data());
            benchmark::ClobberMemory();
        }
        set_matrix_counters(s, rows, cols, T, static_cast<double>(rows * cols * sizeof(W)));
    });
}

void bm_project(benchmark::State& s, const backend_variant& v, std::size_t K, std::size_t out, std::size_t T) {
    const auto& m = weights<float>(K, out);
    const auto x = random_floats(T * K, 3);
    std::vector<float> y(T * out);
    with_backend(s, v, [&](const auto& be) {
        for (auto _ : s) {
            rwkv::ops::project(be, rwkv::const_matrix_view<float>(x.data(), T, K),
                               rwkv::const_matrix_view<float>(m.data(), K, out), rwkv::matrix_view<float>(y.data(), T, out));
            benchmark::DoNotOptimize(y.data());
            benchmark::ClobberMemory();
        }
        set_matrix_counters(s, K, out, T, static_cast<double>(K * out * sizeof(float)));
    });
}

// Block-quantized weights in the kernel table's layout (kernel_table.hpp): random codes, scales.
struct quantized {
    std::vector<std::int8_t> codes;
    std::vector<float> scales;
    rwkv::cpu::quant_rows rows;
    double bytes = 0;
};

quantized make_quantized(int bits, std::size_t rows, std::size_t cols) {
    constexpr std::size_t B = rwkv::cpu::quant_block;
    const std::size_t padded = (cols + B - 1) / B * B, blocks = padded / B;
    const std::size_t code_bytes = bits == 8 ? padded : padded / 2;
    quantized q;
    q.codes.resize(rows * code_bytes);
    q.scales.resize(rows * blocks);
    rwkv::generate::rng rng(static_cast<std::uint64_t>(bits) * 1000 + rows);
    for (auto& c : q.codes) {
        const auto r = static_cast<int>(rng.uniform_float() * 255.0f);
        // int8: a code in [−127, 127]; int4: any byte is two valid nibbles.
        c = static_cast<std::int8_t>(bits == 8 ? std::min(r, 254) - 127 : r - 128);
    }
    for (auto& sc : q.scales) sc = 0.01f * (0.5f + rng.uniform_float());
    q.rows = {q.codes.data(), q.scales.data(), code_bytes, blocks};
    q.bytes = static_cast<double>(q.codes.size() + q.scales.size() * sizeof(float));
    return q;
}

void bm_gemm_quant(benchmark::State& s, int bits, rwkv::cpu::isa i, std::size_t rows, std::size_t cols, std::size_t T) {
    const auto* k = table_or_skip(s, i);
    if (!k) return;
    static std::map<std::tuple<int, std::size_t, std::size_t>, quantized> cache;
    auto& q = cache[{bits, rows, cols}];
    if (q.codes.empty()) q = make_quantized(bits, rows, cols);
    q.rows.codes = q.codes.data();  // the map node is stable, but re-point after a copy
    q.rows.scales = q.scales.data();
    const auto x = random_floats(T * cols, 4);
    std::vector<float> y(T * rows);
    const auto fn = bits == 8 ? k->gemm_int8 : k->gemm_int4;
    for (auto _ : s) {
        fn(q.rows, x.data(), cols, y.data(), rows, T, 0, rows, cols);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_matrix_counters(s, rows, cols, T, q.bytes);
}

// ---- WKV scans -------------------------------------------------------------------------------------
struct scan_inputs {
    std::size_t T;
    std::vector<float> state, r, w, k, v, a, b, u, y;
    explicit scan_inputs(std::size_t t)
        : T(t), state(H * N * N), r(random_floats(T * C, 3)), w(T * C, 0.95f), k(random_floats(T * C, 4)),
          v(random_floats(T * C, 5)), a(random_floats(T * C, 6, 0.1f)), b(random_floats(T * C, 7, 0.1f)),
          u(random_floats(C, 8, 0.5f)), y(T * C) {}
    rwkv::const_matrix_view<float> in(const std::vector<float>& m) const { return {m.data(), T, C}; }
    rwkv::tensor3_view<float> st() { return {state.data(), H, N, N}; }
    rwkv::matrix_view<float> out() { return {y.data(), T, C}; }
};

// The cpu backend's WKV form, forced (nullopt: as the backend chooses).
using wkv_form = std::optional<rwkv::backends::wkv_variant>;

template <class Body>
void with_wkv_backend(benchmark::State& s, const backend_variant& var, wkv_form form, Body&& body) {
    if (!var.isa) return with_backend(s, var, body);
    auto be = make_cpu(s, *var.isa);
    if (!be) return;
    if (form) be->set_wkv_scan(*form);
    body(*be);
}

void bm_wkv7(benchmark::State& s, const backend_variant& var, std::size_t T, wkv_form form) {
    scan_inputs in(T);
    with_wkv_backend(s, var, form, [&](const auto& be) {
        for (auto _ : s) {
            rwkv::ops::wkv7<N>(be, in.st(), in.in(in.r), in.in(in.w), in.in(in.k), in.in(in.v), in.in(in.a), in.in(in.b),
                               in.out());
            benchmark::DoNotOptimize(in.y.data());
            benchmark::ClobberMemory();
        }
        s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()) * static_cast<std::int64_t>(T));
    });
}

void bm_wkv6(benchmark::State& s, const backend_variant& var, std::size_t T, wkv_form form) {
    scan_inputs in(T);
    with_wkv_backend(s, var, form, [&](const auto& be) {
        for (auto _ : s) {
            rwkv::ops::wkv6<N>(be, in.st(), in.in(in.r), in.in(in.w), in.in(in.k), in.in(in.v), in.u, in.out());
            benchmark::DoNotOptimize(in.y.data());
            benchmark::ClobberMemory();
        }
        s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()) * static_cast<std::int64_t>(T));
    });
}

// ---- light ops -------------------------------------------------------------------------------------
void bm_layer_norm(benchmark::State& s, std::size_t T) {
    auto x = random_floats(T * C, 8), w = random_floats(C, 9), b = random_floats(C, 10);
    std::vector<float> y(T * C);
    const rwkv::backends::reference be;
    for (auto _ : s) {
        rwkv::ops::layer_norm(be, rwkv::const_matrix_view<float>(x.data(), T, C), w, b,
                              rwkv::matrix_view<float>(y.data(), T, C));
        benchmark::DoNotOptimize(y.data());
    }
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()) * static_cast<std::int64_t>(T));
}

void bm_group_norm(benchmark::State& s, std::size_t T) {
    auto x = random_floats(T * C, 8), w = random_floats(C, 9), b = random_floats(C, 10);
    std::vector<float> y(T * C);
    const rwkv::backends::reference be;
    for (auto _ : s) {
        rwkv::ops::group_norm(be, rwkv::const_matrix_view<float>(x.data(), T, C), w, b, H, rwkv::ops::group_norm_eps,
                              rwkv::matrix_view<float>(y.data(), T, C));
        benchmark::DoNotOptimize(y.data());
    }
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()) * static_cast<std::int64_t>(T));
}

void bm_sample(benchmark::State& s) {
    const auto vocab = static_cast<std::int32_t>(s.range(0));
    auto logits = random_floats(static_cast<std::size_t>(vocab), 11, 5.0f);
    rwkv::generate::sampler smp({.temperature = 1.0f, .top_p = 0.9f, .top_k = static_cast<std::int32_t>(s.range(1)),
                                 .seed = 1},
                                vocab);
    for (auto _ : s) benchmark::DoNotOptimize(smp.sample(logits));
}
BENCHMARK(bm_sample)->Args({65536, 0})->Args({65536, 40});

// ---- registration ----------------------------------------------------------------------------------
std::string shape(std::size_t rows, std::size_t cols, std::size_t T) {
    return std::to_string(rows) + "x" + std::to_string(cols) + "/T:" + std::to_string(T);
}

void register_all() {
    // (rows, cols): attention projections, FFN key, FFN value; the head only as a matvec.
    const std::pair<std::size_t, std::size_t> shapes[] = {{C, C}, {F, C}, {C, F}};
    const std::size_t batches[] = {1, 16, 64};
    for (const auto& v : variants()) {
        auto add_linear = [&](auto tag, const char* wname) {
            using W = decltype(tag);
            for (const auto& sh : shapes)
                for (std::size_t T : batches) {
                    const std::size_t rows = sh.first, cols = sh.second;
                    benchmark::RegisterBenchmark(("linear/" + v.name + "/" + wname + "/" + shape(rows, cols, T)).c_str(),
                                                 [v, rows, cols, T](benchmark::State& s) { bm_linear<W>(s, v, rows, cols, T); })
                        ->Unit(benchmark::kMicrosecond);
                }
            benchmark::RegisterBenchmark(("linear/" + v.name + "/" + wname + "/" + shape(V, C, 1)).c_str(),
                                         [v](benchmark::State& s) { bm_linear<W>(s, v, V, C, 1); })
                ->Unit(benchmark::kMicrosecond);
        };
        add_linear(float{}, "f32");
        add_linear(rwkv::bf16{}, "bf16");
        add_linear(rwkv::f16{}, "f16");
        for (std::size_t T : {std::size_t{1}, std::size_t{64}})
            benchmark::RegisterBenchmark(("project/" + v.name + "/f32/" + shape(C, 128, T)).c_str(),
                                         [v, T](benchmark::State& s) { bm_project(s, v, C, 128, T); })
                ->Unit(benchmark::kMicrosecond);
    }
    for (std::size_t i = 0; i < rwkv::cpu::isa_names.size(); ++i) {
        const auto isa = static_cast<rwkv::cpu::isa>(i);
        const std::string iname(rwkv::cpu::isa_names[i]);
        for (int bits : {8, 4}) {
            const std::string base = "gemm_int" + std::to_string(bits) + "/" + iname + "/";
            for (const auto& sh : shapes)
                for (std::size_t T : batches) {
                    const std::size_t rows = sh.first, cols = sh.second;
                    benchmark::RegisterBenchmark((base + shape(rows, cols, T)).c_str(),
                                                 [bits, isa, rows, cols, T](benchmark::State& s) {
                                                     bm_gemm_quant(s, bits, isa, rows, cols, T);
                                                 })
                        ->Unit(benchmark::kMicrosecond);
                }
            benchmark::RegisterBenchmark((base + shape(V, C, 1)).c_str(), [bits, isa](benchmark::State& s) {
                bm_gemm_quant(s, bits, isa, V, C, 1);
            })->Unit(benchmark::kMicrosecond);
        }
    }
    const std::pair<std::string, wkv_form> forms[] = {{"", std::nullopt},
                                                       {"_sequential", rwkv::backends::wkv_variant::sequential},
                                                       {"_chunked", rwkv::backends::wkv_variant::chunked}};
    for (const auto& v : variants())
        for (const auto& [suffix, form] : forms) {
            if (form && !v.isa) continue;  // the reference backend has one form
            for (std::size_t T : {std::size_t{1}, std::size_t{4}, std::size_t{16}, std::size_t{64}, std::size_t{512}}) {
                const std::string tail = "/" + v.name + "/T:" + std::to_string(T);
                benchmark::RegisterBenchmark(("wkv7" + suffix + tail).c_str(),
                                             [v, T, f = form](benchmark::State& s) { bm_wkv7(s, v, T, f); })
                    ->Unit(benchmark::kMicrosecond);
                benchmark::RegisterBenchmark(("wkv6" + suffix + tail).c_str(),
                                             [v, T, f = form](benchmark::State& s) { bm_wkv6(s, v, T, f); })
                    ->Unit(benchmark::kMicrosecond);
            }
        }
    for (std::size_t T : {std::size_t{1}, std::size_t{64}}) {
        benchmark::RegisterBenchmark(("layer_norm/T:" + std::to_string(T)).c_str(),
                                     [T](benchmark::State& s) { bm_layer_norm(s, T); });
        benchmark::RegisterBenchmark(("group_norm/T:" + std::to_string(T)).c_str(),
                                     [T](benchmark::State& s) { bm_group_norm(s, T); });
    }
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
