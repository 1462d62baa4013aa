// tools/bench_command.hpp — `rwkv-cli bench`: decode and prefill speed of a model on this machine,
// and how close they come to the machine's own limits, measured in the same run with the same
// thread count (docs/contracts.md, "`rwkv-cli init` and `rwkv-cli bench`").
//
//   rwkv-cli bench --model FILE [--precision f32|bf16|f16|int8|int4] [--backend cpu|reference] [--threads N]
//                  [--isa avx512|avx2|sse2|portable] [--decode N] [--prefill N] [--batch N]
//                  [--limits-seconds S] [--prefill-seconds S] [--state-init FILE] [--json]
//
// What is measured:
//   decode   one token per forward call, logits of every token (logits_mode::last), after a short
//            warm-up; --decode tokens (default 64) on one state. With --batch N, N agents (each its
//            own state, each warmed to a different position) step together through forward_batch
//            for --decode steps; decode_tok_s is then summed over the agents. --decode 0 skips it.
//   prefill  one forward call over --prefill tokens (default 512, logits of the last only) through a
//            workspace of min(N, 128) tokens, so the model chunks it; repeated on fresh states until
//            --prefill-seconds (default 1) of measurement, best run reported. --prefill 0 skips it.
//   limits   read bandwidth: each of the N threads streams its own slice of a 512 MiB buffer through
//            the kernel table's read_stream (best of several passes; GB = 1e9 bytes); fp32 FMA peak:
//            each thread runs the table's fma_loop (best of 3 passes of about a quarter of
//            --limits-seconds each: 0.25 s by default). The table is the one --isa names, else the best this CPU runs.
//            --limits-seconds (default 1) is roughly the time spent on each of the two; lower it
//            (e.g. 0.1) for a quick smoke run — the tests do.
// Roofline fractions (contract): decode_tok_s ÷ (bandwidth ÷ weight_bytes_per_token) and
// prefill_tok_s ÷ (FMA peak ÷ (2 × elements of every weight matrix but the embedding and the head)).
// peak_rss_bytes is the process's peak resident set *before* the limit measurements (which would
// otherwise count their own 512 MiB buffer): the model, its state, workspace and logits, and any
// pages of the file still mapped; rss_bytes is the resident set at that point.
//
// --json prints exactly one JSON object on stdout; progress goes to stderr.
#pragma once

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "model_options.hpp"
#include "rwkv/backends/cpu/kernel_table.hpp"
#include "rwkv/core/platform.hpp"
#include "rwkv/any_model.hpp"
#include "rwkv/state/state_tuning.hpp"

namespace rwkv_cli {

namespace bench_detail {

struct bench_args {
    std::string model, precision = "f32", backend = "cpu", isa, state_init;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    long long decode = 64, prefill = 512, batch = 1;
    double limits_seconds = 1.0, prefill_seconds = 1.0;
    bool json = false;
};

inline constexpr long long max_tokens = 1 << 20;
inline constexpr int max_threads = 1024;
inline constexpr long long max_batch = 4096;
inline constexpr std::size_t bandwidth_buffer_bytes = std::size_t{512} << 20;

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point t0) {
    return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

// Deterministic pseudo-random token ids below n_vocab (splitmix64).
inline std::vector<std::int32_t> bench_tokens(std::size_t n, std::size_t n_vocab, std::uint64_t seed) {
    std::vector<std::int32_t> out(n);
    std::uint64_t x = seed;
    for (auto& t : out) {
        x += 0x9e3779b97f4a7c15ull;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        t = static_cast<std::int32_t>(z % n_vocab);
    }
    return out;
}

// A "VmXXX:  N kB" line of /proc/self/status, in bytes (0 where there is none).
inline std::size_t proc_status_bytes(const std::string& key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(key, 0) == 0) return static_cast<std::size_t>(std::strtoull(line.c_str() + key.size(), nullptr, 10)) * 1024;
    return 0;
}

// Peak resident set of this process, in bytes (VmHWM; the OS's peak resident set or working set as
// the fallback).
inline std::size_t peak_rss_bytes() {
    if (const std::size_t b = proc_status_bytes("VmHWM:")) return b;
    return rwkv::platform::peak_resident_bytes();
}

// Runs fn(thread, pass) on `threads` threads (the caller is thread 0) for `passes` passes, all
// threads starting each pass together; returns the wall time of each pass.
inline std::vector<double> timed_passes(std::size_t threads, std::size_t passes,
                                        const std::function<void(std::size_t, std::size_t)>& fn) {
    std::barrier sync(static_cast<std::ptrdiff_t>(threads));
    std::vector<double> times(passes);
    auto body = [&](std::size_t t) {
        for (std::size_t p = 0; p < passes; ++p) {
            sync.arrive_and_wait();
            const auto t0 = bench_clock::now();
            fn(t, p);
            sync.arrive_and_wait();
            if (t == 0) times[p] = seconds_since(t0);
        }
    };
    std::vector<std::jthread> workers;
    workers.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) workers.emplace_back(body, t);
    body(0);
    return times;
}

struct limits {
    double bandwidth_bytes_per_s = 0, fma_flops_per_s = 0;
    std::size_t bandwidth_passes = 0, fma_iterations = 0;
};

// Read bandwidth: each thread streams its own contiguous slice of one buffer.
inline double measure_bandwidth(const rwkv::cpu::kernel_table& k, std::size_t threads, double seconds,
                                std::size_t& passes_done) {
    const std::size_t n = bandwidth_buffer_bytes / sizeof(float);
    const std::size_t lane = 1024;  // slices start on 4 KiB boundaries
    // Mapped with its pages populated up front: first-touch page faults are slow on virtual
    // machines (seconds for 512 MiB on a Firecracker guest), and they are not what is measured.
    struct mapping {
        float* p = nullptr;
        std::size_t bytes = 0;
        std::unique_ptr<float[]> fallback;
        explicit mapping(std::size_t n_floats) : bytes(n_floats * sizeof(float)) {
            void* m = rwkv::platform::map_anonymous_populated(bytes);
            if (m == nullptr) {
                fallback.reset(new float[n_floats]);
                p = fallback.get();
            } else {
                p = static_cast<float*>(m);
            }
        }
        ~mapping() {
            if (!fallback && p) rwkv::platform::unmap(p, bytes);
        }
        mapping(const mapping&) = delete;
        mapping& operator=(const mapping&) = delete;
        float* get() const noexcept { return p; }
    } buf(n);
    auto slice = [&](std::size_t t) {
        const std::size_t units = n / lane;
        return std::pair{units * t / threads * lane, t + 1 == threads ? n : units * (t + 1) / threads * lane};
    };
    // Written once by the thread that reads the slice (also the first pass over the memory, slow
    // on virtual machines and not timed).
    timed_passes(threads, 1, [&](std::size_t t, std::size_t) {
        const auto [b, e] = slice(t);
        std::fill(buf.get() + b, buf.get() + e, 1.0f);
    });
    std::vector<float> sums(threads);
    double best = 1e300, spent = 0;
    std::size_t passes = 0;
    // At least 3 passes; more while the budget lasts (at most 50).
    while (passes < 3 || (spent < seconds && passes < 50)) {
        const double dt = timed_passes(threads, 1, [&](std::size_t t, std::size_t) {
                              const auto [b, e] = slice(t);
                              sums[t] += k.read_stream(buf.get() + b, e - b);
                          }).front();
        best = std::min(best, dt);
        spent += dt;
        ++passes;
    }
    float total = 0;
    for (float v : sums) total += v;
    if (total == -1.0f) std::fputc(' ', stderr);  // keeps the sums observable
    passes_done = passes;
    return static_cast<double>(n * sizeof(float)) / best;
}

// fp32 FMA peak: every thread runs the table's register-only FMA loop; flops summed over wall time.
inline double measure_fma(const rwkv::cpu::kernel_table& k, std::size_t threads, double seconds,
                          std::size_t& iterations_used) {
    // Calibrate one thread's rate, then size each pass to about seconds / 4 (best of 3 passes).
    std::size_t iters = 1 << 16;
    double dt = 0;
    for (;;) {
        const auto t0 = bench_clock::now();
        k.fma_loop(iters);
        dt = seconds_since(t0);
        if (dt > 0.01 || iters > (std::size_t{1} << 40)) break;
        iters *= 4;
    }
    const double target = std::max(0.005, seconds / 4);
    iters = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(iters) * target / std::max(dt, 1e-9)));
    std::vector<double> flops(threads);
    const auto times = timed_passes(threads, 3, [&](std::size_t t, std::size_t) { flops[t] = k.fma_loop(iters); });
    double total = 0;
    for (double f : flops) total += f;
    iterations_used = iters;
    return total / *std::min_element(times.begin(), times.end());
}

inline void check_args(const bench_args& a) {
    if (a.threads < 1 || a.threads > max_threads)
        throw rwkv::invalid_argument("--threads must be between 1 and " + std::to_string(max_threads) + " (got " +
                                     std::to_string(a.threads) + ")");
    for (auto [name, v] : {std::pair{"--decode", a.decode}, {"--prefill", a.prefill}})
        if (v < 0 || v > max_tokens)
            throw rwkv::invalid_argument(std::string(name) + " must be between 0 and " + std::to_string(max_tokens) +
                                         " tokens (got " + std::to_string(v) + ")");
    if (a.batch < 1 || a.batch > max_batch)
        throw rwkv::invalid_argument("--batch must be between 1 and " + std::to_string(max_batch) + " agents (got " +
                                     std::to_string(a.batch) + ")");
    if (!(a.limits_seconds > 0 && a.limits_seconds <= 60))
        throw rwkv::invalid_argument("--limits-seconds must be in (0, 60] (got " + std::to_string(a.limits_seconds) + ")");
    if (!(a.prefill_seconds >= 0 && a.prefill_seconds <= 60))
        throw rwkv::invalid_argument("--prefill-seconds must be in [0, 60] (got " + std::to_string(a.prefill_seconds) +
                                     ")");
    // --precision and --backend are checked by any_model::open, before it reads the file.
    if (!a.isa.empty()) {
        rwkv::cpu::parse_isa(a.isa);  // invalid_argument when unknown
        if (a.backend == "reference") throw rwkv::invalid_argument("--isa applies to the cpu backend only");
    }
}

inline int run_bench(const bench_args& a) {
    check_args(a);
    // The table for the limit measurements: --isa's (unsupported_error when this CPU lacks it).
    const rwkv::cpu::kernel_table& k =
        a.isa.empty() ? rwkv::cpu::kernels() : rwkv::cpu::kernels_for(rwkv::cpu::parse_isa(a.isa));
    const auto threads = static_cast<std::size_t>(a.threads);
    const auto n_decode = static_cast<std::size_t>(a.decode), n_prefill = static_cast<std::size_t>(a.prefill);
    const auto batch = static_cast<std::size_t>(a.batch);

    rwkv::open_options opt;
    opt.precision = a.precision;
    opt.backend = a.backend;
    opt.threads = threads;
    opt.instruction_set = a.isa;
    const auto model = rwkv::any_model::open(a.model, opt);
    const auto info = model.summary();
    if (info.n_vocab == 0 || info.head_elements == 0)
        throw rwkv::invalid_argument(a.model + ": this model has no head (a features-only backbone): nothing to bench");
    // Every state starts as this one: fresh, or with --state-init's matrix states.
    rwkv::state initial = model.make_state();
    if (!a.state_init.empty()) rwkv::apply_state_tuning(initial, std::filesystem::path(a.state_init));
    // Progress only from here on, so that an argument or file error stays one line on stderr.
    std::fprintf(stderr, "bench: %s (%s, %s, %zu thread%s)\n", a.model.c_str(), info.precision.c_str(),
                 info.backend.c_str(), threads, threads == 1 ? "" : "s");
    const std::size_t V = info.n_vocab;
    std::vector<float> logits(V);

    // ---- decode ----------------------------------------------------------------------------------
    // `batch` agents, agent g warmed with g % 4 + 1 tokens (so they sit at different positions),
    // then n_decode steps; one agent steps through forward(), several through forward_batch().
    const std::size_t state_bytes = model.make_state().values().size() * sizeof(float);
    // The workspace a decode step of `batch` agents needs (reported with --decode 0 too).
    const std::size_t workspace_bytes = model.make_workspace(batch)->bytes();
    double decode_s = 0;
    if (n_decode > 0) {
        std::vector<rwkv::state> agents;
        std::vector<rwkv::state*> agent_ptrs;
        agents.reserve(batch);
        for (std::size_t g = 0; g < batch; ++g) agents.push_back(initial.fork());
        for (auto& st : agents) agent_ptrs.push_back(&st);
        auto ws = model.make_workspace(batch);
        std::vector<float> batch_logits(batch * V);
        auto warm = model.make_workspace(4);
        for (std::size_t g = 0; g < batch; ++g) {
            const auto w = bench_tokens(g % 4 + 1, V, 2 + g);
            model.forward(w, agents[g], *warm, logits, rwkv::logits_mode::last);
        }
        const auto decode_tokens = bench_tokens(n_decode * batch, V, 1);
        std::fprintf(stderr, "bench: decode %zu tokens%s\n", n_decode,
                     batch > 1 ? (" for each of " + std::to_string(batch) + " agents").c_str() : "");
        const auto t0 = bench_clock::now();
        for (std::size_t step = 0; step < n_decode; ++step) {
            const auto tokens = std::span(decode_tokens).subspan(step * batch, batch);
            if (batch == 1) model.forward(tokens, agents[0], *ws, logits, rwkv::logits_mode::last);
            else model.forward_batch(tokens, {}, agent_ptrs, *ws, batch_logits, rwkv::logits_mode::last);
        }
        decode_s = seconds_since(t0);
    }
    const double decode_tok_s = static_cast<double>(n_decode * batch) / decode_s;

    // ---- prefill ------------------------------------------------------------------------------
    const auto prefill_tokens = bench_tokens(n_prefill, V, 3);
    const std::size_t capacity = std::clamp<std::size_t>(n_prefill, 1, 128);
    double prefill_best = 1e300, prefill_spent = 0;
    std::size_t prefill_runs = 0;
    if (n_prefill > 0) {
        auto st = initial.fork();
        auto ws = model.make_workspace(capacity);
        std::fprintf(stderr, "bench: prefill %zu tokens (chunks of %zu)\n", n_prefill, capacity);
        while (prefill_runs == 0 || (prefill_spent < a.prefill_seconds && prefill_runs < 1000)) {
            st = initial.fork();
            const auto t0 = bench_clock::now();
            model.forward(prefill_tokens, st, *ws, logits, rwkv::logits_mode::last);
            const double dt = seconds_since(t0);
            prefill_best = std::min(prefill_best, dt);
            prefill_spent += dt;
            ++prefill_runs;
        }
    }
    const double prefill_tok_s = static_cast<double>(n_prefill) / prefill_best;
    const std::size_t rss = peak_rss_bytes(), rss_now = proc_status_bytes("VmRSS:");

    // ---- the machine's limits -----------------------------------------------------------------
    limits lim;
    const std::string limits_isa(rwkv::cpu::isa_names[static_cast<int>(k.id)]);
    std::fprintf(stderr, "bench: read bandwidth (%zu MiB, %s)\n", bandwidth_buffer_bytes >> 20, limits_isa.c_str());
    lim.bandwidth_bytes_per_s = measure_bandwidth(k, threads, a.limits_seconds, lim.bandwidth_passes);
    std::fprintf(stderr, "bench: fp32 FMA peak (%s)\n", limits_isa.c_str());
    lim.fma_flops_per_s = measure_fma(k, threads, a.limits_seconds, lim.fma_iterations);

    const std::size_t body_matrix_elements = info.matrix_elements - info.head_elements;
    const double decode_bound = lim.bandwidth_bytes_per_s / static_cast<double>(info.weight_bytes_per_token);
    const double prefill_flops_per_token = 2.0 * static_cast<double>(body_matrix_elements);
    const double prefill_bound = prefill_flops_per_token > 0 ? lim.fma_flops_per_s / prefill_flops_per_token : 0;

    // A measurement that was skipped (--decode 0, --prefill 0) is null.
    const auto or_null = [](bool measured, double v) { return measured ? nlohmann::json(v) : nlohmann::json(); };
    nlohmann::json j = {
        {"model", a.model},
        {"arch", std::string(rwkv::architecture_name(info.arch))},
        {"n_embd", info.n_embd},
        {"n_layer", info.n_layer},
        {"n_vocab", info.n_vocab},
        {"threads", threads},
        {"precision", info.precision},
        {"backend", info.backend},
        {"batch", batch},
        {"state_bytes_per_agent", state_bytes},
        {"workspace_bytes", workspace_bytes},
        {"decode_tokens", n_decode},
        {"decode_seconds", or_null(n_decode > 0, decode_s)},
        {"decode_tok_s", or_null(n_decode > 0, decode_tok_s)},
        {"prefill_tokens", n_prefill},
        {"prefill_chunk", capacity},
        {"prefill_runs", prefill_runs},
        {"prefill_seconds", or_null(n_prefill > 0, prefill_best)},
        {"prefill_tok_s", or_null(n_prefill > 0, prefill_tok_s)},
        {"weight_bytes_per_token", info.weight_bytes_per_token},
        {"matrix_elements", info.matrix_elements},
        {"head_elements", info.head_elements},
        {"limits_isa", limits_isa},
        {"bandwidth_gbs", lim.bandwidth_bytes_per_s / 1e9},
        {"bandwidth_buffer_bytes", bandwidth_buffer_bytes},
        {"fma_peak_gflops", lim.fma_flops_per_s / 1e9},
        {"decode_roofline_tok_s", decode_bound},
        {"decode_roofline_fraction", or_null(n_decode > 0, decode_tok_s / decode_bound)},
        {"prefill_roofline_tok_s", prefill_bound},
        {"prefill_roofline_fraction", or_null(n_prefill > 0, prefill_bound > 0 ? prefill_tok_s / prefill_bound : 0.0)},
        {"peak_rss_bytes", rss},
        {"rss_bytes", rss_now},
    };
    if (a.json) {
        std::cout << j.dump() << '\n';
    } else {
        auto num = [](double v, int prec) {
            char b[64];
            std::snprintf(b, sizeof b, "%.*f", prec, v);
            return std::string(b);
        };
        const std::pair<std::string, std::string> rows[] = {
            {"model", a.model + " (" + j["arch"].get<std::string>() + ", C " + std::to_string(info.n_embd) + ", L " +
                          std::to_string(info.n_layer) + ", V " + std::to_string(info.n_vocab) + ")"},
            {"backend", info.backend + ", " + info.precision + ", " + std::to_string(threads) + " threads"},
            {"decode", n_decode == 0 ? std::string("skipped")
                       : num(decode_tok_s, 2) + " tok/s (" + std::to_string(n_decode) + " tokens" +
                             (batch > 1 ? " × " + std::to_string(batch) + " agents, summed" : std::string()) +
                             "; roofline " + num(decode_bound, 2) + " tok/s = " +
                             num(100 * decode_tok_s / decode_bound, 1) + "%)"},
            {"prefill", n_prefill == 0 ? std::string("skipped")
                        : num(prefill_tok_s, 2) + " tok/s (" + std::to_string(n_prefill) + " tokens, best of " +
                              std::to_string(prefill_runs) + "; roofline " + num(prefill_bound, 2) + " tok/s = " +
                              num(prefill_bound > 0 ? 100 * prefill_tok_s / prefill_bound : 0.0, 1) + "%)"},
            {"per agent", num(static_cast<double>(state_bytes) / 1024, 1) + " KiB state + " +
                              num(static_cast<double>(workspace_bytes) / 1024 / static_cast<double>(batch), 1) +
                              " KiB of the batch workspace"},
            {"weights/token", num(static_cast<double>(info.weight_bytes_per_token) / 1e6, 2) + " MB"},
            {"bandwidth", num(lim.bandwidth_bytes_per_s / 1e9, 2) + " GB/s (read, " + limits_isa + ")"},
            {"fma peak", num(lim.fma_flops_per_s / 1e9, 2) + " GFLOP/s (fp32, " + limits_isa + ")"},
            {"peak rss", num(static_cast<double>(rss) / (1 << 20), 1) + " MiB"},
        };
        for (const auto& [key, value] : rows) std::printf("%-14s %s\n", (key + ":").c_str(), value.c_str());
    }
    return exit_ok;
}

}  // namespace bench_detail

inline void add_bench_command(CLI::App& app, std::function<int()>& action) {
    using namespace bench_detail;
    auto ba = std::make_shared<bench_args>();
    auto* bench = app.add_subcommand("bench", "Measure decode/prefill tokens/s against this machine's bandwidth and FMA peak");
    bench->add_option("--model", ba->model, "Checkpoint (.pth, .safetensors, GGUF, rwkv.cpp, or a Hugging Face folder or shard index; told apart by content)")->required();
    bench->add_option("--precision", ba->precision, "Weights in memory: f32 | bf16 | f16 | int8 | int4")
        ->check(CLI::IsMember(precision_names()))
        ->capture_default_str();
    bench->add_option("--backend", ba->backend, "cpu (SIMD kernels, threads) | reference (plain loops)")
        ->check(CLI::IsMember(backend_names()))
        ->capture_default_str();
    bench->add_option("--threads", ba->threads, "Worker threads (model and limit measurements)")->capture_default_str();
    bench->add_option("--isa", ba->isa, "cpu kernels: avx512 | avx2 | sse2 | portable (default: the best this CPU runs)");
    bench->add_option("--decode", ba->decode, "Tokens decoded one per call (0: skip)")->capture_default_str();
    bench->add_option("--prefill", ba->prefill, "Tokens in the prefill call (0: skip)")->capture_default_str();
    bench->add_option("--batch", ba->batch, "Agents stepped together per decode call (forward_batch)")
        ->capture_default_str();
    bench->add_option("--limits-seconds", ba->limits_seconds,
                      "About how long each machine-limit measurement (bandwidth, FMA) takes; 0.1 for a quick run")
        ->capture_default_str();
    bench->add_option("--prefill-seconds", ba->prefill_seconds,
                      "Repeat the prefill call until this much time is measured (0: once); the best run counts")
        ->capture_default_str();
    bench->add_option("--state-init", ba->state_init,
                      "State-tuning file (.pth or safetensors, blocks.N.att.time_state): every state's initial matrix state");
    bench->add_flag("--json", ba->json, "Print one JSON object on stdout");
    bench->callback([ba, &action] { action = [ba] { return run_bench(*ba); }; });
}

}  // namespace rwkv_cli
