// GoldFinch against the official goldens (../shared/golden/goldfinch-c128-l3.*): one-shot and
// prefill + decode; chunked prefill with a non-empty cache equals one-shot; the cache holds only
// compressed keys and token ids; config checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "rwkv/models/goldfinch.hpp"
#include "rwkv/rwkv.hpp"
#include "test_support.hpp"

using namespace rwkv;

namespace {

using rwkv_test::max_abs_diff;

std::filesystem::path golden(const std::string& name) { return rwkv_test::shared_golden_dir() / name; }

std::vector<std::int32_t> golden_tokens() {
    std::ifstream f(golden("goldfinch-c128-l3.tokens.json"));
    return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
}

// Logits of every position, fed in chunks of the given sizes (cycled) from the empty state.
template <class Model>
std::vector<float> run_chunked(const Model& m, std::span<const std::int32_t> tokens, std::vector<std::size_t> sizes,
                               state& st) {
    const std::size_t V = m.cfg().n_vocab;
    std::vector<float> logits(tokens.size() * V);
    auto ws = m.make_workspace(*std::max_element(sizes.begin(), sizes.end()));
    for (std::size_t done = 0, k = 0; done < tokens.size(); ++k) {
        const std::size_t n = std::min(sizes[k % sizes.size()], tokens.size() - done);
        m.forward(tokens.subspan(done, n), st, ws, std::span(logits).subspan(done * V, n * V), logits_mode::all);
        done += n;
    }
    return logits;
}

}  // namespace

TEST_CASE("goldfinch matches the official goldens", "[goldfinch][golden]") {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found (../shared/golden): skipping GoldFinch");
        return;
    }
    const auto tokens = golden_tokens();
    const auto one_shot = rwkv_test::read_f32(golden("goldfinch-c128-l3.logits.f32"));
    const auto decode = rwkv_test::read_f32(golden("goldfinch-c128-l3.decode-logits.f32"));
    for (const char* file : {"goldfinch-c128-l3.pth", "goldfinch-c128-l3.safetensors"}) {
        const auto m = goldfinch::model<>::load(golden(file), goldfinch::read_config(golden("goldfinch-c128-l3.config.json")));
        CHECK(m.cfg().n_c2 == 2);
        CHECK(m.cfg().compressed == 8);
        auto st = m.make_state();
        const auto seq = run_chunked(m, tokens, {tokens.size()}, st);
        CHECK(max_abs_diff(seq, one_shot) <= 1e-4f);
        CHECK(st.cache_size() == tokens.size());

        auto st2 = m.make_state();
        const auto mixed = run_chunked(m, tokens, {16, 1}, st2);  // prefill 16, then one at a time
        CHECK(max_abs_diff(mixed, decode) <= 1e-4f);
    }
}

TEST_CASE("goldfinch chunked prefill with a non-empty cache equals one-shot", "[goldfinch]") {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found: skipping");
        return;
    }
    const auto m = goldfinch::model<>::load(golden("goldfinch-c128-l3.safetensors"));
    const auto tokens = golden_tokens();
    auto st0 = m.make_state();
    const auto reference = run_chunked(m, tokens, {tokens.size()}, st0);
    for (const auto& sizes : std::vector<std::vector<std::size_t>>{{5}, {7, 3}, {13}, {1, 30}, {20, 28}}) {
        auto st = m.make_state();
        const auto logits = run_chunked(m, tokens, sizes, st);
        INFO("first chunk size " << sizes[0]);
        CHECK(max_abs_diff(logits, reference) <= 1e-5f);
        CHECK(max_abs_diff(st.values(), st0.values()) <= 1e-5f);
        std::vector<float> c1(st.cache_size() * 8), c0(st0.cache_size() * 8);
        st.read_cache(c1);
        st0.read_cache(c0);
        CHECK(max_abs_diff(c1, c0) <= 1e-5f);
    }
}

TEST_CASE("goldfinch prefill for the last logits runs GOLD on a window and stays exact", "[goldfinch]") {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found: skipping");
        return;
    }
    const auto m = goldfinch::model<>::load(golden("goldfinch-c128-l3.pth"));
    const auto tokens = golden_tokens();
    const auto one_shot = rwkv_test::read_f32(golden("goldfinch-c128-l3.logits.f32"));
    const std::size_t V = m.cfg().n_vocab;
    for (std::size_t prefill : {4, 17, 30}) {  // W = 2·n_g + 1 = 3 rows of GOLD work
        auto st = m.make_state();
        auto ws = m.make_workspace(32);
        std::vector<float> logits(V);
        m.forward(std::span(tokens).first(prefill), st, ws, logits, logits_mode::last);
        INFO("prefill " << prefill);
        CHECK(max_abs_diff(logits, std::span(one_shot).subspan((prefill - 1) * V, V)) <= 1e-4f);
        for (std::size_t t = prefill; t < tokens.size(); ++t) {
            m.forward(std::span(tokens).subspan(t, 1), st, ws, logits, logits_mode::last);
            CHECK(max_abs_diff(logits, std::span(one_shot).subspan(t * V, V)) <= 1e-4f);
        }
    }
}

TEST_CASE("goldfinch cache: compressed keys and token ids only, saved and forked with the state", "[goldfinch][state]") {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found: skipping");
        return;
    }
    const auto m = goldfinch::model<>::load(golden("goldfinch-c128-l3.pth"));
    // c = C/16 = 8 floats + a 4-byte token id per token.
    CHECK(goldfinch::cache_bytes_per_token(m.cfg()) == 4 * 8 + 4);
    // The paper's 1.5B shape (L24, C2048): 16-bit rows would be 2·128 + 4 = 260 B; with f32 rows 516 B.
    goldfinch::config big;
    big.compressed = 2048 / 16;
    CHECK(goldfinch::cache_bytes_per_token(big) == 516);

    const auto tokens = golden_tokens();
    auto st = m.make_state();
    auto ws = m.make_workspace(16);
    std::vector<float> logits(m.cfg().n_vocab);
    m.forward(std::span(tokens).first(20), st, ws, logits);
    CHECK(st.cache_size() == 20);
    CHECK(st.cache_bytes().size() == 20 * 8 * 4);
    CHECK(std::equal(st.cache_tokens().begin(), st.cache_tokens().end(), tokens.begin()));

    rwkv_test::temp_dir dir;
    save_state(st, dir.path / "gf.state");
    auto loaded = load_state(dir.path / "gf.state");
    loaded.reserve_cache(64);
    auto fork = st.fork();
    std::vector<float> a(m.cfg().n_vocab), b(m.cfg().n_vocab);
    m.forward(std::span(tokens).subspan(20, 1), loaded, ws, a);
    m.forward(std::span(tokens).subspan(20, 1), fork, ws, b);
    CHECK(a == b);
    CHECK(st.cache_size() == 20);  // the fork did not touch the original

    goldfinch::options tiny;
    tiny.max_context = 4;
    const auto m4 = goldfinch::model<>::load(golden("goldfinch-c128-l3.pth"), tiny);
    auto st4 = m4.make_state();
    CHECK_THROWS_AS(m4.forward(std::span(tokens).first(5), st4, logits_mode::last), state_error);
}

TEST_CASE("goldfinch 16-bit policies keep a 16-bit cache", "[goldfinch][bf16]") {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found: skipping");
        return;
    }
    const auto tokens = golden_tokens();
    const auto one_shot = rwkv_test::read_f32(golden("goldfinch-c128-l3.logits.f32"));
    const auto m = goldfinch::model<backends::reference, precision::f16>::load(golden("goldfinch-c128-l3.pth"));
    CHECK(goldfinch::cache_bytes_per_token(m.cfg()) == 2 * 8 + 4);
    auto st = m.make_state();
    const auto logits = m.forward(tokens, st, logits_mode::all);
    CHECK(st.cache_bytes().size() == tokens.size() * 2 * 8);
    // f16 weights and cache together: 0.013 measured against the f32 goldens (logit std 2.5).
    CHECK(max_abs_diff(logits, one_shot) <= 0.05f);
}

TEST_CASE("goldfinch config is checked against the tensors", "[goldfinch][errors]") {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found: skipping");
        return;
    }
    rwkv_test::temp_dir dir;
    auto write = [&](const std::string& name, const std::string& text) {
        const auto p = dir.path / name;
        rwkv_test::write_file_bytes(p, text.data(), text.size());
        return p;
    };
    const auto model_path = golden("goldfinch-c128-l3.pth");
    goldfinch::options bad_ratio = goldfinch::read_config(write("r.json", R"({"model": {"inv_other_layer_ratio": 2}})"));
    CHECK_THROWS_AS(goldfinch::model<>::load(model_path, bad_ratio), model_error);
    CHECK_THROWS_AS(goldfinch::read_config(write("rope.json", R"({"model": {"rope": {"base": 10000}}})")),
                    unsupported_error);
    CHECK_THROWS_AS(goldfinch::read_config(write("bad.json", R"({"nomodel": 1})")), format_error);
    CHECK_THROWS_AS(goldfinch::read_config(write("broken.json", "{")), format_error);
    CHECK_THROWS_AS(goldfinch::read_config(dir.path / "missing.json"), io_error);
    CHECK_THROWS_AS(any_model::open(rwkv_test::data_dir() / "v7-c128-l2.pth",
                                    {"f32", "reference", 1, golden("goldfinch-c128-l3.config.json").string(), 4096, ""}),
                    invalid_argument);
}
