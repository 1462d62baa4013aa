// The cpu backend (SIMD kernels per ISA, thread pool) against the official goldens and against the
// reference backend: every architecture, every precision, RNN / sequence / mixed modes, the final
// state, every instruction set this machine runs, and bitwise determinism over thread counts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "rwkv/any_model.hpp"
#include "rwkv/backends/cpu.hpp"
#include "test_support.hpp"

using namespace rwkv;

namespace {

constexpr float tolerance = 1e-4f;

using rwkv_test::max_abs_diff;

struct golden_case {
    std::string prefix;
    std::filesystem::path dir;
    bool has_state;  // .state.f32 (RNN-mode final state) exists
};

std::vector<golden_case> golden_cases() {
    std::vector<golden_case> cases{{"v7-c128-l2", rwkv_test::data_dir(), true}};
    const auto shared = rwkv_test::shared_golden_dir();
    if (shared.empty()) {
        WARN("shared goldens not found (../shared/golden): the cpu backend is checked on RWKV-7 only");
        return cases;
    }
    for (const char* p : {"v4-c128-l2", "v5-c128-l2", "v6-c128-l2"}) cases.push_back({p, shared, true});
    cases.push_back({"goldfinch-c128-l3", shared, false});
    return cases;
}

std::vector<std::int32_t> tokens_of(const golden_case& g) {
    std::ifstream f(g.dir / (g.prefix + ".tokens.json"));
    return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
}

struct run_result {
    std::vector<float> logits, state;
};

// Logits of every position: `prefill` tokens in one call (all logits), then one token per call.
run_result run(const any_model& m, std::span<const std::int32_t> tokens, std::size_t prefill) {
    const std::size_t V = m.summary().n_vocab;
    run_result r;
    r.logits.resize(tokens.size() * V);
    auto st = m.make_state();
    auto ws = m.make_workspace(16);
    if (prefill > 0) m.forward(tokens.first(prefill), st, *ws, std::span(r.logits).first(prefill * V), logits_mode::all);
    for (std::size_t t = prefill; t < tokens.size(); ++t)
        m.forward(tokens.subspan(t, 1), st, *ws, std::span(r.logits).subspan(t * V, V), logits_mode::last);
    r.state.assign(st.values().begin(), st.values().end());
    return r;
}

std::vector<std::string> runnable_isas() {
    std::vector<std::string> out;
    for (int i = 0; i < 4; ++i) {
        const auto id = static_cast<cpu::isa>(i);
        if (i == 0 || (cpu::registered_tables()[i] && cpu::cpu_supports(id))) out.emplace_back(cpu::isa_names[i]);
    }
    return out;
}

any_model open_cpu(const std::filesystem::path& p, const std::string& precision, const std::string& isa,
                   std::size_t threads) {
    open_options o;
    o.precision = precision;
    o.backend = "cpu";
    o.threads = threads;
    o.instruction_set = isa;
    return any_model::open(p, o);
}

}  // namespace

TEST_CASE("the cpu backend matches the official goldens on every ISA", "[cpu][golden]") {
    const auto isas = runnable_isas();
    INFO("instruction sets run here: " << isas.size());
    CHECK(std::find(isas.begin(), isas.end(), "portable") != isas.end());
    for (const auto& g : golden_cases()) {
        const auto tokens = tokens_of(g);
        const auto expected = rwkv_test::read_f32(g.dir / (g.prefix + ".logits.f32"));
        const bool goldfinch = g.prefix.starts_with("goldfinch");
        const auto decode = goldfinch ? rwkv_test::read_f32(g.dir / (g.prefix + ".decode-logits.f32")) : expected;
        for (const auto& isa : isas) {
            const auto m = open_cpu(g.dir / (g.prefix + ".pth"), "f32", isa, 1);
            // GoldFinch's RNN-mode golden is "prefill 16, then decode" (.decode-logits.f32).
            for (std::size_t prefill : {std::size_t{0}, std::size_t{16}, tokens.size()}) {
                if (goldfinch && prefill == 0) continue;
                const auto r = run(m, tokens, prefill);
                const auto& want = goldfinch && prefill == 16 ? decode : expected;
                const float d = max_abs_diff(r.logits, want);
                INFO(g.prefix << " " << isa << " prefill " << prefill << ": max |dlogit| " << d);
                CHECK(d <= tolerance);
                if (g.has_state) {
                    const float ds = max_abs_diff(r.state, rwkv_test::read_f32(g.dir / (g.prefix + ".state.f32")));
                    INFO("state max |d| " << ds);
                    CHECK(ds <= tolerance);
                }
            }
        }
        if (goldfinch) continue;
        // bf16: the official bf16 checkpoint upcast, and the bf16 policy on the f32 checkpoint.
        const auto bf16_expected = rwkv_test::read_f32(g.dir / (g.prefix + ".bf16.logits.f32"));
        for (const auto& isa : isas) {
            const auto upcast = open_cpu(g.dir / (g.prefix + ".bf16.pth"), "f32", isa, 1);
            const auto policy = open_cpu(g.dir / (g.prefix + ".pth"), "bf16", isa, 1);
            for (const any_model* m : {&upcast, &policy}) {
                const float d = max_abs_diff(run(*m, tokens, 16).logits, bf16_expected);
                INFO(g.prefix << " bf16 " << isa << ": max |dlogit| " << d);
                CHECK(d <= tolerance);
            }
        }
    }
}

TEST_CASE("the cpu backend matches the reference backend in f16", "[cpu]") {
    for (const auto& g : golden_cases()) {
        const auto tokens = tokens_of(g);
        open_options ro;
        ro.precision = "f16";
        ro.backend = "reference";
        const auto ref = run(any_model::open(g.dir / (g.prefix + ".pth"), ro), tokens, 16);
        for (const auto& isa : runnable_isas()) {
            const auto got = run(open_cpu(g.dir / (g.prefix + ".pth"), "f16", isa, 2), tokens, 16);
            const float d = max_abs_diff(got.logits, ref.logits);
            INFO(g.prefix << " f16 " << isa << ": max |dlogit| vs reference " << d);
            // GoldFinch under f16 also keeps its key cache in f16: a last-bit difference in a cached
            // value (float vs double sums) can round to a neighbouring f16, ~1e-3 relative.
            CHECK(d <= (g.prefix.starts_with("goldfinch") ? 1e-3f : tolerance));
        }
    }
}

TEST_CASE("cpu backend results are bitwise identical for any thread count", "[cpu][determinism]") {
    for (const auto& g : golden_cases()) {
        const auto tokens = tokens_of(g);
        for (const char* precision : {"f32", "bf16", "int8", "int4"}) {
            const auto one = run(open_cpu(g.dir / (g.prefix + ".pth"), precision, "", 1), tokens, 16);
            for (std::size_t threads : {2, 3, 4}) {
                const auto many = run(open_cpu(g.dir / (g.prefix + ".pth"), precision, "", threads), tokens, 16);
                INFO(g.prefix << " " << precision << " threads " << threads);
                CHECK(std::memcmp(one.logits.data(), many.logits.data(), one.logits.size() * sizeof(float)) == 0);
                CHECK(std::memcmp(one.state.data(), many.state.data(), one.state.size() * sizeof(float)) == 0);
            }
        }
    }
}

TEST_CASE("prefill chunking changes cpu logits by at most 1e-5", "[cpu][determinism]") {
    for (const auto& g : golden_cases()) {
        const auto tokens = tokens_of(g);
        const auto m = open_cpu(g.dir / (g.prefix + ".pth"), "f32", "", 2);
        const std::size_t V = m.summary().n_vocab;
        // The last logits after the whole prompt, fed in chunks of 1, 5, 16 and all at once.
        std::vector<std::vector<float>> lasts;
        for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, std::size_t{16}, tokens.size()}) {
            auto st = m.make_state();
            auto ws = m.make_workspace(chunk);
            std::vector<float> logits(V);
            for (std::size_t done = 0; done < tokens.size(); done += chunk) {
                const std::size_t n = std::min(chunk, tokens.size() - done);
                m.forward(std::span(tokens).subspan(done, n), st, *ws, logits, logits_mode::last);
            }
            lasts.push_back(logits);
        }
        for (std::size_t i = 1; i < lasts.size(); ++i) {
            INFO(g.prefix << " chunking " << i);
            CHECK(max_abs_diff(lasts[0], lasts[i]) <= 1e-5f);
        }
    }
}

TEST_CASE("the cpu backend rejects bad options with typed errors", "[cpu][errors]") {
    const auto p = rwkv_test::data_dir() / "v7-c128-l2.pth";
    CHECK_THROWS_AS(open_cpu(p, "f32", "avx9000", 1), invalid_argument);
    CHECK_THROWS_AS(open_cpu(p, "f32", "", 0), invalid_argument);
    open_options o;
    o.backend = "gpu-of-dreams";
    CHECK_THROWS_AS(any_model::open(p, o), invalid_argument);
    CHECK_THROWS_AS(thread_pool(0), invalid_argument);
}

TEST_CASE("the thread pool runs every index exactly once", "[cpu][threads]") {
    thread_pool pool(3);
    for (std::size_t n : {0, 1, 2, 3, 7, 100}) {
        std::vector<int> hits(n, 0);
        for (int round = 0; round < 50; ++round) pool.run(n, [&](std::size_t i) { ++hits[i]; });
        for (std::size_t i = 0; i < n; ++i) CHECK(hits[i] == 50);
    }
}
