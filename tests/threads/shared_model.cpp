// Several threads sharing one model: each with its own state and workspace, all calling the one
// model's const forward (and so its backend's one thread pool) at once. Every thread's logits must
// be bitwise those of the same work done by one thread alone. Also the pool by itself: concurrent
// and nested runs. Its own executable (plain main, no Catch2) so that scripts/test-tsan builds only
// this under ThreadSanitizer.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/core/thread_pool.hpp"
#include "rwkv/rwkv7.hpp"

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    if (!ok) {
        ++failures;
        std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    }
}

// ---- the pool alone ------------------------------------------------------------------------------

// `callers` threads run `rounds` runs of n tasks each on one pool, some nesting a run inside a task;
// every index of every run must be hit exactly once.
void pool_under_contention(std::size_t pool_threads, std::size_t callers) {
    rwkv::thread_pool pool(pool_threads);
    constexpr std::size_t n = 7, inner = 5;
    constexpr int rounds = 200;
    std::vector<int> bad(callers, 0);
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < callers; ++c)
        threads.emplace_back([&, c] {
            for (int round = 0; round < rounds; ++round) {
                std::vector<int> hits(n, 0);
                std::vector<std::vector<int>> nested(n, std::vector<int>(inner, 0));
                const bool nest = round % 3 == 0;
                pool.run(n, [&](std::size_t i) {
                    ++hits[i];
                    if (nest) pool.run(inner, [&](std::size_t j) { ++nested[i][j]; });
                });
                for (std::size_t i = 0; i < n; ++i) {
                    bad[c] += hits[i] != 1;
                    if (nest)
                        for (std::size_t j = 0; j < inner; ++j) bad[c] += nested[i][j] != 1;
                }
            }
        });
    for (auto& t : threads) t.join();
    int total = 0;
    for (int b : bad) total += b;
    check(total == 0, "thread pool of " + std::to_string(pool_threads) + " with " + std::to_string(callers) +
                          " callers: " + std::to_string(total) + " indices not run exactly once");
}

// ---- one model, many threads -----------------------------------------------------------------------

constexpr std::size_t decode_steps = 20;

// Prompts of different lengths (a prefill of more than 16 tokens takes the pool on this model).
std::vector<std::vector<std::int32_t>> make_prompts() {
    std::vector<std::vector<std::int32_t>> prompts;
    std::uint32_t seed = 12345;
    for (std::size_t len : {5, 17, 24, 33, 48, 40}) {
        std::vector<std::int32_t> p(len);
        for (auto& t : p) {
            seed = seed * 1664525u + 1013904223u;
            t = static_cast<std::int32_t>((seed >> 8) % 256);
        }
        prompts.push_back(std::move(p));
    }
    return prompts;
}

// A prefill of the prompt (the logits of every position), then decode_steps single tokens (their
// logits): all of them, concatenated.
template <class Model>
std::vector<float> run_prompt(const Model& model, typename Model::workspace_type& ws,
                              const std::vector<std::int32_t>& prompt) {
    const std::size_t V = model.cfg().n_vocab;
    std::vector<float> out((prompt.size() + decode_steps) * V);
    auto st = model.make_state();
    model.forward(prompt, st, ws, std::span(out).first(prompt.size() * V), rwkv::logits_mode::all);
    for (std::size_t i = 0; i < decode_steps; ++i) {
        const std::int32_t token = (prompt[i % prompt.size()] * 7 + static_cast<std::int32_t>(i)) % 256;
        model.forward(std::span(&token, 1), st, ws, std::span(out).subspan((prompt.size() + i) * V, V),
                      rwkv::logits_mode::last);
    }
    return out;
}

// `threads` threads share `model`, each running every prompt `rounds` times (starting at a different
// prompt), and compare each result with `expected` bit for bit.
template <class Model>
void shared_model(const Model& model, const std::vector<std::vector<std::int32_t>>& prompts,
                  const std::vector<std::vector<float>>& expected, std::size_t threads, int rounds,
                  const std::string& label) {
    std::vector<int> mismatches(threads, 0);
    std::atomic<std::size_t> ready{0};
    std::vector<std::thread> pool;
    for (std::size_t th = 0; th < threads; ++th)
        pool.emplace_back([&, th] {
            auto ws = model.make_workspace(16);  // prompts longer than 16 run in several chunks
            ready.fetch_add(1);
            while (ready.load() < threads) std::this_thread::yield();  // start together
            for (int round = 0; round < rounds; ++round)
                for (std::size_t k = 0; k < prompts.size(); ++k) {
                    const std::size_t p = (k + th) % prompts.size();
                    const auto got = run_prompt(model, ws, prompts[p]);
                    mismatches[th] += got.size() != expected[p].size() ||
                                      std::memcmp(got.data(), expected[p].data(), got.size() * sizeof(float)) != 0;
                }
        });
    for (auto& t : pool) t.join();
    int total = 0;
    for (int m : mismatches) total += m;
    std::printf("%s: %zu threads x %d rounds x %zu prompts, %d mismatches\n", label.c_str(), threads, rounds,
                prompts.size(), total);
    check(total == 0, label + ": results differ from the single-threaded ones");
}

template <class Precision>
void shared_model_suite(const std::string& path, const std::string& name) {
    using model_t = rwkv::rwkv7::model<rwkv::backends::cpu, Precision>;
    const auto prompts = make_prompts();
    const auto model = model_t::load(path, rwkv::backends::cpu{2});
    std::vector<std::vector<float>> expected;
    {
        auto ws = model.make_workspace(16);
        for (const auto& p : prompts) expected.push_back(run_prompt(model, ws, p));
    }
    shared_model(model, prompts, expected, 6, 2, name + ", pool of 2");
    // A pool of one thread (every run inline in its caller) gives the same bits.
    const auto single = model_t::load(path, rwkv::backends::cpu{1});
    shared_model(single, prompts, expected, 4, 1, name + ", pool of 1");
}

}  // namespace

int main() {
    pool_under_contention(2, 4);
    pool_under_contention(3, 6);
    std::printf("thread pool: concurrent and nested runs done\n");
    const std::string path = std::string(RWKV_TEST_DATA_DIR) + "/v7-c128-l2.safetensors";
    shared_model_suite<rwkv::precision::f32>(path, "rwkv7 f32");
    shared_model_suite<rwkv::precision::int8>(path, "rwkv7 int8");
    std::printf("%s (%d failures)\n", failures == 0 ? "passed" : "FAILED", failures);
    return failures == 0 ? 0 : 1;
}
