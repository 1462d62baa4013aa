// The chunked WKV scans (backends/cpu/wkv_chunked.hpp) against the sequential ones, kernel by
// kernel on every instruction set this machine runs, and whole models forced onto the chunked form
// against the official goldens.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "test_support.hpp"

using namespace rwkv;

namespace {

std::vector<cpu::isa> runnable_isas() {
    std::vector<cpu::isa> out{cpu::isa::portable};
    for (int i = 1; i < 4; ++i) {
        const auto id = static_cast<cpu::isa>(i);
        if (cpu::registered_tables()[i] && cpu::cpu_supports(id)) out.push_back(id);
    }
    return out;
}

// ---- kernels ----------------------------------------------------------------------------------------
enum class decays { mild, strong, zero, mixed };
constexpr const char* decay_names[] = {"mild (w ~ 0.99)", "strong (w ~ 1e-6)", "zero", "mixed"};

float draw_decay(decays d, std::mt19937& g) {
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    switch (d) {
        case decays::mild: return 0.98f + 0.02f * unit(g);
        case decays::strong: return 1e-6f * (1.0f + unit(g));
        case decays::zero: return 0.0f;
        case decays::mixed: break;
    }
    // Per element: any of the above, or RWKV-7's own range (0.545, 1) (ops/wkv7.hpp).
    switch (static_cast<int>(unit(g) * 4.0f)) {
        case 0: return 0.0f;
        case 1: return 1e-6f * (1.0f + unit(g));
        case 2: return 0.545f + 0.455f * unit(g);
        default: return 0.98f + 0.02f * unit(g);
    }
}

// H heads of N channels, T tokens, rows padded (stride > H·N) to catch stride mistakes. Magnitudes
// as in the models: r, k, v, u and the state O(1); RWKV-7's a = −κ̂ and b = κ̂ ⊙ α with ‖κ̂‖ = 1 per
// head and α ∈ (0, 1), so that the transition diag(w) + a bᵀ stays bounded (ops/wkv7.hpp).
struct scan_inputs {
    std::size_t N, T, H, ld;
    std::vector<float> state, r, w, k, v, a, b, u, y;

    scan_inputs(std::size_t n, std::size_t t, decays d, bool same_w_every_token, std::uint32_t seed)
        : N(n), T(t), H(2), ld(2 * n + 8) {
        std::mt19937 g(seed);
        std::uniform_real_distribution<float> sym(-1.0f, 1.0f), unit(0.0f, 1.0f);
        const std::size_t rows = std::max<std::size_t>(T, 1);
        auto fill = [&](std::vector<float>& x, std::size_t count, float scale) {
            x.resize(count);
            for (auto& e : x) e = scale * sym(g);
        };
        fill(state, H * N * N, 1.0f);
        fill(r, rows * ld, 1.0f);
        fill(k, rows * ld, 1.0f);
        fill(v, rows * ld, 1.0f);
        fill(u, H * N, 0.5f);
        w.resize(rows * ld);
        for (auto& e : w) e = draw_decay(d, g);
        if (same_w_every_token)  // RWKV-5: one decay row for every token (row stride 0)
            w.resize(ld);
        a.assign(rows * ld, 0.0f);
        b.assign(rows * ld, 0.0f);
        for (std::size_t tok = 0; tok < T; ++tok)
            for (std::size_t h = 0; h < H; ++h) {
                std::vector<float> kappa(N);
                float norm = 0.0f;
                for (auto& e : kappa) e = sym(g), norm += e * e;
                norm = std::sqrt(norm);
                for (std::size_t i = 0; i < N; ++i) {
                    a[tok * ld + h * N + i] = -kappa[i] / norm;
                    b[tok * ld + h * N + i] = kappa[i] / norm * unit(g);
                }
            }
        y.assign(rows * ld, 0.0f);
    }

    void run(void (*scan)(const cpu::wkv_head_args&), bool same_w_every_token) {
        for (std::size_t h = 0; h < H; ++h) {
            cpu::wkv_head_args p;
            p.S = state.data() + h * N * N;
            p.N = N, p.T = T;
            p.r = r.data() + h * N, p.w = w.data() + h * N, p.k = k.data() + h * N, p.v = v.data() + h * N;
            p.a = a.data() + h * N, p.b = b.data() + h * N, p.u = u.data() + h * N;
            p.ldr = p.ldk = p.ldv = p.lda = p.ldb = ld;
            p.ldw = same_w_every_token ? 0 : ld;
            p.y = y.data() + h * N, p.ldy = ld;
            scan(p);
        }
    }
};

// max |x − reference| / max |reference|.
float relative_error(const std::vector<float>& x, const std::vector<float>& reference) {
    float diff = 0.0f, scale = 0.0f;
    for (std::size_t i = 0; i < x.size(); ++i) {
        diff = std::max(diff, std::abs(x[i] - reference[i]));
        scale = std::max(scale, std::abs(reference[i]));
    }
    return scale > 0.0f ? diff / scale : diff;
}

// The two forms add the same products in different orders (per chunk: the state's contribution,
// then the scores', instead of token by token), in fp32 (ε = 6e-8). Outputs are sums of up to
// N·(Lc + 1) ≈ 10³ products of O(1) terms, so the rounding differences stay around ε·√terms; the
// largest measured here is below 1e-6 of the output's magnitude. 1e-5 leaves room for other
// compilers' contractions, while a wrong decay or a misplaced term changes results by ≥ 1e-2.
constexpr float kernel_tolerance = 1e-5f;

}  // namespace

TEST_CASE("chunked WKV kernels match the sequential scans on every ISA", "[cpu][wkv]") {
    float worst = 0.0f;
    for (const auto isa : runnable_isas()) {
        const auto& table = cpu::kernels_for(isa);
        REQUIRE(table.wkv7_chunked);
        REQUIRE(table.wkv6_chunked);
        for (const bool rwkv7 : {false, true})
            for (const std::size_t N : {32, 64})
                for (const std::size_t T : {0, 1, 2, 7, 16, 17, 64, 100})
                    for (const decays d : {decays::mild, decays::strong, decays::zero, decays::mixed}) {
                        for (const bool same_w : {false, true}) {
                            if (same_w && (rwkv7 || d != decays::mixed)) continue;
                            const auto seed = static_cast<std::uint32_t>(N * 1000 + T * 10 + static_cast<int>(d));
                            scan_inputs sequential(N, T, d, same_w, seed), chunked = sequential;
                            sequential.run(rwkv7 ? table.wkv7_head : table.wkv6_head, same_w);
                            chunked.run(rwkv7 ? table.wkv7_chunked : table.wkv6_chunked, same_w);
                            const float dy = relative_error(chunked.y, sequential.y);
                            const float ds = relative_error(chunked.state, sequential.state);
                            worst = std::max({worst, dy, ds});
                            INFO(cpu::isa_names[static_cast<int>(isa)]
                                 << (rwkv7 ? " RWKV-7" : same_w ? " RWKV-5" : " RWKV-6") << " N " << N << " T " << T
                                 << " decays " << decay_names[static_cast<int>(d)] << ": relative error y " << dy
                                 << ", state " << ds);
                            CHECK(dy <= kernel_tolerance);
                            CHECK(ds <= kernel_tolerance);
                        }
                    }
        // A head size with more vectors per row, on one shape.
        for (const bool rwkv7 : {false, true}) {
            scan_inputs sequential(128, 33, decays::mixed, false, 7), chunked = sequential;
            sequential.run(rwkv7 ? table.wkv7_head : table.wkv6_head, false);
            chunked.run(rwkv7 ? table.wkv7_chunked : table.wkv6_chunked, false);
            INFO(cpu::isa_names[static_cast<int>(isa)] << " N 128 " << (rwkv7 ? "RWKV-7" : "RWKV-6"));
            CHECK(relative_error(chunked.y, sequential.y) <= kernel_tolerance);
            CHECK(relative_error(chunked.state, sequential.state) <= kernel_tolerance);
        }
    }
    INFO("largest relative error: " << worst);
    CHECK(worst <= kernel_tolerance);
}

TEST_CASE("the cpu backend's WKV variant: default, copies, parsing, the automatic rule", "[cpu][wkv]") {
    backends::cpu be(1);
    CHECK(be.wkv_scan() == backends::default_wkv_variant());
    be.set_wkv_scan(backends::wkv_variant::chunked);
    const backends::cpu copy = be;  // what a model holds
    CHECK(copy.wkv_scan() == backends::wkv_variant::chunked);
    CHECK(backends::parse_wkv_variant("sequential") == backends::wkv_variant::sequential);
    CHECK(backends::parse_wkv_variant("automatic") == backends::wkv_variant::automatic);
    CHECK_THROWS_AS(backends::parse_wkv_variant("fast"), invalid_argument);

    // Forced variants pick their kernel whatever the shape; automatic follows the rule.
    const auto& k = be.kernels();
    CHECK(ops::cpu_detail::wkv_scan_fn(be, true, 1) == k.wkv7_chunked);
    be.set_wkv_scan(backends::wkv_variant::sequential);
    CHECK(ops::cpu_detail::wkv_scan_fn(be, false, 512) == k.wkv6_head);
    be.set_wkv_scan(backends::wkv_variant::automatic);
    for (const std::size_t T : {1, 16, 512}) {
        const bool v6_chunked = ops::cpu_detail::chunked_wkv_is_faster(k.id, false, T);
        const bool v7_chunked = ops::cpu_detail::chunked_wkv_is_faster(k.id, true, T);
        CHECK(ops::cpu_detail::wkv_scan_fn(be, false, T) == (v6_chunked ? k.wkv6_chunked : k.wkv6_head));
        CHECK(ops::cpu_detail::wkv_scan_fn(be, true, T) == (v7_chunked ? k.wkv7_chunked : k.wkv7_head));
    }
    // Decoding stays on the sequential scan wherever it is the faster (every SIMD table).
    for (const auto isa : {cpu::isa::sse2, cpu::isa::avx2, cpu::isa::avx512})
        for (const bool rwkv7 : {false, true}) CHECK_FALSE(ops::cpu_detail::chunked_wkv_is_faster(isa, rwkv7, 1));
}

// ---- whole models against the goldens ---------------------------------------------------------------
namespace {

struct golden {
    std::string prefix;
    std::filesystem::path dir;
};

std::vector<golden> goldens() {
    std::vector<golden> out{{"v7-c128-l2", rwkv_test::data_dir()}};
    const auto shared = rwkv_test::shared_golden_dir();
    if (shared.empty()) {
        WARN("shared goldens not found (../shared/golden): the chunked form is checked on RWKV-7 only");
        return out;
    }
    for (const char* p : {"v5-c128-l2", "v6-c128-l2", "goldfinch-c128-l3"}) out.push_back({p, shared});
    return out;
}

struct run_result {
    std::vector<float> logits, state;
};

// Logits of every position: `prefill` tokens in one call (all logits, in chunks of `capacity`
// tokens), then one token per call.
template <class Model>
run_result run(const Model& m, std::span<const std::int32_t> tokens, std::size_t prefill, std::size_t capacity) {
    const std::size_t V = m.cfg().n_vocab;
    run_result r;
    r.logits.resize(tokens.size() * V);
    auto st = m.make_state();
    auto ws = m.make_workspace(capacity);
    if (prefill > 0) m.forward(tokens.first(prefill), st, ws, std::span(r.logits).first(prefill * V), logits_mode::all);
    for (std::size_t t = prefill; t < tokens.size(); ++t)
        m.forward(tokens.subspan(t, 1), st, ws, std::span(r.logits).subspan(t * V, V), logits_mode::last);
    r.state.assign(st.values().begin(), st.values().end());
    return r;
}

// Runs fn(model) with the golden's model on `be`.
template <class Fn>
void with_model(const golden& g, const backends::cpu& be, Fn&& fn) {
    const auto path = g.dir / (g.prefix + ".pth");
    if (g.prefix.starts_with("v5")) return fn(rwkv5::model<backends::cpu>::load(path, be));
    if (g.prefix.starts_with("v6")) return fn(rwkv6::model<backends::cpu>::load(path, be));
    if (g.prefix.starts_with("v7")) return fn(rwkv7::model<backends::cpu>::load(path, be));
    auto file = io::tensor_file::open(path);
    goldfinch::options opt;  // as any_model::open: the config stored in the metadata, if any
    if (const auto it = file.metadata().find("config"); it != file.metadata().end())
        opt = goldfinch::parse_config(it->second, file.display_name());
    fn(goldfinch::model<backends::cpu>(std::move(file), opt, be));
}

}  // namespace

TEST_CASE("models on the chunked WKV form match the official goldens", "[cpu][wkv][golden]") {
    constexpr float tolerance = 1e-4f;  // as the other cpu golden checks (test_cpu_backend.cpp)
    for (const auto& g : goldens()) {
        std::ifstream tf(g.dir / (g.prefix + ".tokens.json"));
        const auto tokens = nlohmann::json::parse(tf).get<std::vector<std::int32_t>>();
        const auto expected = rwkv_test::read_f32(g.dir / (g.prefix + ".logits.f32"));
        const bool goldfinch = g.prefix.starts_with("goldfinch");
        const auto decoded = goldfinch ? rwkv_test::read_f32(g.dir / (g.prefix + ".decode-logits.f32")) : expected;
        const auto final_state =
            goldfinch ? std::vector<float>{} : rwkv_test::read_f32(g.dir / (g.prefix + ".state.f32"));
        for (const auto isa : runnable_isas()) {
            backends::cpu be(1, isa);
            be.set_wkv_scan(backends::wkv_variant::chunked);
            with_model(g, be, [&](const auto& m) {
                REQUIRE(m.backend().wkv_scan() == backends::wkv_variant::chunked);
                // Whole sequence in one call (chunks of 16 and a partial one when 20 tokens go per
                // scan), and prefill 16 then decode (T = 1 through the chunked kernel).
                struct mode {
                    std::size_t prefill, capacity;
                } modes[] = {{tokens.size(), tokens.size()}, {tokens.size(), 20}, {16, 16}};
                for (const auto& md : modes) {
                    const auto r = run(m, tokens, md.prefill, md.capacity);
                    const auto& want = goldfinch && md.prefill == 16 ? decoded : expected;
                    const float d = rwkv_test::max_abs_diff(r.logits, want);
                    INFO(g.prefix << " " << cpu::isa_names[static_cast<int>(isa)] << " prefill " << md.prefill
                                  << " tokens per call " << md.capacity << ": max |dlogit| " << d);
                    CHECK(d <= tolerance);
                    if (!final_state.empty()) {
                        const float ds = rwkv_test::max_abs_diff(r.state, final_state);
                        INFO("state max |d| " << ds);
                        CHECK(ds <= tolerance);
                    }
                }
            });
        }
    }
}
