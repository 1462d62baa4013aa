// RWKV-7 against the official goldens (v7-c128-l2): RNN, sequence and mixed modes, final state,
// f32/bf16 precision, .pth/.safetensors/bf16 .pth, G1 layout; and the model's rejections.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "rwkv/io/safetensors.hpp"
#include "rwkv/rwkv7.hpp"
#include "model_runs.hpp"
#include "test_support.hpp"

using namespace rwkv;
using rwkv_test::data_dir;
using rwkv_test::read_f32;

namespace {

std::vector<std::int32_t> golden_tokens() {
    std::ifstream f(data_dir() / "v7-c128-l2.tokens.json");
    return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
}

using rwkv_test::max_abs_diff;

constexpr float tolerance = 1e-4f;

using rwkv_test::run_mixed;

template <class Model>
void check_against_golden(const Model& m, const std::string& logits_file, const std::string& seq_file,
                          bool check_state) {
    const auto tokens = golden_tokens();
    const auto golden = read_f32(data_dir() / logits_file);
    const std::size_t V = m.cfg().n_vocab;

    SECTION("rnn mode: one token per call") {
        auto st = m.make_state();
        const auto logits = run_mixed(m, tokens, 0, st);
        const float d = max_abs_diff(logits, golden);
        INFO("rnn max |dlogit| = " << d);
        CHECK(d <= tolerance);
        if (check_state) {
            const auto golden_state = read_f32(data_dir() / "v7-c128-l2.state.f32");
            const float ds = max_abs_diff(st.values(), golden_state);
            INFO("state max |d| = " << ds);
            CHECK(ds <= tolerance);
        }
    }
    SECTION("sequence mode: one call") {
        auto st = m.make_state();
        const auto all = m.forward(tokens, st, logits_mode::all);
        CHECK(max_abs_diff(all, golden) <= tolerance);
        const auto seq_last = read_f32(data_dir() / seq_file);
        CHECK(max_abs_diff(std::span(all).last(V), seq_last) <= tolerance);
        if (check_state)
            CHECK(max_abs_diff(st.values(), read_f32(data_dir() / "v7-c128-l2.state.f32")) <= tolerance);
    }
    SECTION("mixed: prefill 16 then one at a time") {
        auto st = m.make_state();
        CHECK(max_abs_diff(run_mixed(m, tokens, 16, st), golden) <= tolerance);
    }
    SECTION("sequence mode in internal chunks of 5 tokens") {
        auto st = m.make_state();
        auto ws = m.make_workspace(5);
        std::vector<float> all(tokens.size() * V);
        m.forward(tokens, st, ws, all, logits_mode::all);
        CHECK(max_abs_diff(all, golden) <= tolerance);
    }
}

// Re-writes a golden as .safetensors with a tensor list edited by `edit`.
template <class Edit>
std::filesystem::path rewrite(const rwkv_test::temp_dir& dir, const std::string& name, Edit edit) {
    auto src = io::tensor_file::open(data_dir() / "v7-c128-l2.safetensors");
    std::vector<io::tensor_to_write> out;
    for (const auto& t : src.tensors()) out.push_back({t.name, t.type, t.shape, t.bytes});
    edit(out);
    const auto path = dir.path / name;
    io::write_safetensors(path, out, {});
    return path;
}

}  // namespace

TEST_CASE("rwkv7 f32 .pth matches the official goldens", "[rwkv7][golden]") {
    const auto m = rwkv7::model<>::load(data_dir() / "v7-c128-l2.pth");
    CHECK(m.cfg().n_embd == 128);
    CHECK(m.cfg().n_layer == 2);
    CHECK(m.cfg().n_head == 2);
    CHECK(m.cfg().head_size == 64);
    CHECK(m.cfg().dim_ffn == 512);
    CHECK(m.cfg().n_vocab == 256);
    check_against_golden(m, "v7-c128-l2.logits.f32", "v7-c128-l2.seq-logits.f32", true);
}

TEST_CASE("rwkv7 f32 .safetensors matches the official goldens", "[rwkv7][golden]") {
    const auto m = rwkv7::model<>::load(data_dir() / "v7-c128-l2.safetensors");
    check_against_golden(m, "v7-c128-l2.logits.f32", "v7-c128-l2.seq-logits.f32", true);
}

TEST_CASE("rwkv7 bf16 checkpoint upcast to f32 matches the bf16 goldens", "[rwkv7][golden][bf16]") {
    const auto m = rwkv7::model<>::load(data_dir() / "v7-c128-l2.bf16.pth");
    check_against_golden(m, "v7-c128-l2.bf16.logits.f32", "v7-c128-l2.bf16.seq-logits.f32", false);
}

TEST_CASE("rwkv7 bf16 precision policy on the f32 checkpoint matches the bf16 goldens", "[rwkv7][golden][bf16]") {
    const auto m = rwkv7::model<backends::reference, precision::bf16>::load(data_dir() / "v7-c128-l2.pth");
    check_against_golden(m, "v7-c128-l2.bf16.logits.f32", "v7-c128-l2.bf16.seq-logits.f32", false);
}

TEST_CASE("rwkv7 bf16 precision policy on the bf16 checkpoint is zero-copy and exact", "[rwkv7][golden][bf16]") {
    const auto m = rwkv7::model<backends::reference, precision::bf16>::load(data_dir() / "v7-c128-l2.bf16.pth");
    check_against_golden(m, "v7-c128-l2.bf16.logits.f32", "v7-c128-l2.bf16.seq-logits.f32", false);
}

TEST_CASE("rwkv7 G1 layout (no layer-0 v0/v1/v2) gives the same logits", "[rwkv7][golden]") {
    rwkv_test::temp_dir dir;
    const auto path = rewrite(dir, "g1.safetensors", [](auto& ts) {
        std::erase_if(ts, [](const io::tensor_to_write& t) {
            return t.name == "blocks.0.att.v0" || t.name == "blocks.0.att.v1" || t.name == "blocks.0.att.v2";
        });
    });
    const auto m = rwkv7::model<>::load(path);
    check_against_golden(m, "v7-c128-l2.logits.f32", "v7-c128-l2.seq-logits.f32", true);
}

TEST_CASE("rwkv7 state: fork, save/load round trip, refusal of corrupt or foreign states", "[rwkv7][state]") {
    const auto m = rwkv7::model<>::load(data_dir() / "v7-c128-l2.safetensors");
    const auto tokens = golden_tokens();
    const auto golden = read_f32(data_dir() / "v7-c128-l2.logits.f32");
    const std::size_t V = m.cfg().n_vocab;
    auto ws = m.make_workspace();
    std::vector<float> logits(V);

    auto st = m.make_state();
    m.forward(std::span(tokens).first(20), st, ws, logits);
    const auto fork = st.fork();
    m.forward(std::span(tokens).subspan(20, 1), st, ws, logits);  // advancing st leaves fork alone
    REQUIRE(std::vector<float>(fork.values().begin(), fork.values().end()) !=
            std::vector<float>(st.values().begin(), st.values().end()));

    rwkv_test::temp_dir dir;
    const auto path = dir.path / "s.rwkvstate";
    save_state(fork, path);
    auto loaded = load_state(path);
    REQUIRE(std::equal(loaded.values().begin(), loaded.values().end(), fork.values().begin()));
    m.forward(std::span(tokens).subspan(20, 1), loaded, ws, logits);
    CHECK(max_abs_diff(logits, std::span(golden).subspan(20 * V, V)) <= tolerance);

    SECTION("corrupted byte → checksum error") {
        auto bytes = rwkv_test::read_file_bytes(path);
        bytes[bytes.size() / 2] ^= 0x5a;
        rwkv_test::write_file_bytes(path, bytes.data(), bytes.size());
        CHECK_THROWS_AS(load_state(path), state_error);
    }
    SECTION("truncated file") {
        auto bytes = rwkv_test::read_file_bytes(path);
        for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{15}, bytes.size() / 3, bytes.size() - 1}) {
            rwkv_test::write_file_bytes(path, bytes.data(), cut);
            CHECK_THROWS_AS(load_state(path), state_error);
        }
    }
    SECTION("not a state file") {
        CHECK_THROWS_AS(load_state(data_dir() / "v7-c128-l2.tokens.json"), state_error);
        CHECK_THROWS_AS(load_state(dir.path / "missing"), io_error);
    }
    SECTION("a state for another model shape is refused") {
        rwkv7::config other = m.cfg();
        other.n_layer = 3;
        state foreign(rwkv7::make_state_layout(other));
        CHECK_THROWS_AS(m.forward(std::span(tokens).first(1), foreign, ws, logits), state_error);
        state empty;
        CHECK_THROWS_AS(m.forward(std::span(tokens).first(1), empty, ws, logits), state_error);
    }
    SECTION("loading with the expected shape checks it") {
        CHECK(load_state(path, m.make_state().layout()).layout() == m.make_state().layout());
        rwkv7::config other = m.cfg();
        other.n_layer = 3;
        CHECK_THROWS_AS(load_state(path, *rwkv7::make_state_layout(other)), state_error);
    }
}

TEST_CASE("rwkv7 rejects bad inputs with typed errors", "[rwkv7][errors]") {
    const auto m = rwkv7::model<>::load(data_dir() / "v7-c128-l2.safetensors");
    auto st = m.make_state();
    auto ws = m.make_workspace();
    std::vector<float> logits(m.cfg().n_vocab);

    SECTION("token ids out of range") {
        const std::vector<std::int32_t> bad{1, 256};
        CHECK_THROWS_AS(m.forward(bad, st, ws, logits), invalid_argument);
        const std::vector<std::int32_t> neg{-1};
        CHECK_THROWS_WITH(m.forward(neg, st, ws, logits), Catch::Contains("out of range"));
    }
    SECTION("empty token list") {
        CHECK_THROWS_AS(m.forward(std::span<const std::int32_t>{}, st, ws, logits), invalid_argument);
    }
    SECTION("logits buffer too small") {
        const std::vector<std::int32_t> two{1, 2};
        CHECK_THROWS_AS(m.forward(two, st, ws, std::span(logits).first(10)), invalid_argument);
        CHECK_THROWS_AS(m.forward(two, st, ws, logits, logits_mode::all), invalid_argument);
    }

    rwkv_test::temp_dir dir;
    SECTION("missing tensor is named") {
        const auto path = rewrite(dir, "missing.safetensors", [](auto& ts) {
            std::erase_if(ts, [](const io::tensor_to_write& t) { return t.name == "blocks.1.att.k_a"; });
        });
        CHECK_THROWS_AS(rwkv7::model<>::load(path), model_error);
        CHECK_THROWS_WITH(rwkv7::model<>::load(path),
                          Catch::Contains("blocks.1.att.k_a") && Catch::Contains("missing.safetensors"));
    }
    SECTION("layer 1 without v0/v1/v2 is an error (only layer 0 may omit them)") {
        const auto path = rewrite(dir, "nov1.safetensors", [](auto& ts) {
            std::erase_if(ts, [](const io::tensor_to_write& t) { return t.name == "blocks.1.att.v1"; });
        });
        CHECK_THROWS_AS(rwkv7::model<>::load(path), model_error);
    }
    SECTION("misshapen tensor: expected and found shapes in the message") {
        const auto path = rewrite(dir, "shape.safetensors", [](auto& ts) {
            for (auto& t : ts)
                if (t.name == "blocks.1.att.key.weight") {
                    t.shape = {128, 64};
                    t.bytes = t.bytes.first(128 * 64 * 4);
                }
        });
        CHECK_THROWS_AS(rwkv7::model<>::load(path), model_error);
        CHECK_THROWS_WITH(rwkv7::model<>::load(path), Catch::Contains("blocks.1.att.key.weight") &&
                                                          Catch::Contains("[128, 64]") && Catch::Contains("[128, 128]"));
    }
    SECTION("inconsistent LoRA ranks") {
        const auto path = rewrite(dir, "lora.safetensors", [](auto& ts) {
            for (auto& t : ts)
                if (t.name == "blocks.0.att.w2") {
                    t.shape = {16, 128};
                    t.bytes = t.bytes.first(16 * 128 * 4);
                }
        });
        CHECK_THROWS_AS(rwkv7::model<>::load(path), model_error);
    }
    SECTION("NaN in a weight is reported") {
        std::vector<float> nan_key(128 * 128, std::nanf(""));
        const auto path = rewrite(dir, "nan.safetensors", [&](auto& ts) {
            for (auto& t : ts)
                if (t.name == "blocks.0.att.key.weight") t.bytes = std::as_bytes(std::span(nan_key));
        });
        CHECK_THROWS_WITH(rwkv7::model<>::load(path), Catch::Contains("NaN"));
    }
    SECTION("head size that is not compiled in") {
        const auto path = rewrite(dir, "hs.safetensors", [](auto& ts) {
            for (auto& t : ts)
                if (t.name.ends_with("att.r_k")) t.shape = {8, 16};
        });
        CHECK_THROWS_AS(rwkv7::model<>::load(path), unsupported_error);
    }
    SECTION("not an RWKV checkpoint") {
        const auto path = rewrite(dir, "empty.safetensors", [](auto& ts) {
            std::erase_if(ts, [](const io::tensor_to_write& t) { return t.name == "emb.weight"; });
        });
        CHECK_THROWS_WITH(rwkv7::model<>::load(path), Catch::Contains("not an RWKV checkpoint"));
    }
    SECTION("another architecture is refused by name") {
        const auto golden = rwkv_test::shared_golden_dir();
        if (golden.empty()) {
            WARN("shared goldens not found: skipping the RWKV-4 refusal check");
        } else {
            CHECK_THROWS_WITH(rwkv7::model<>::load(golden / "v4-c128-l2.pth"), Catch::Contains("rwkv4"));
        }
    }
}

TEST_CASE("rwkv7 sequence mode agrees with RNN mode across chunkings within 1e-5", "[rwkv7][determinism]") {
    const auto m = rwkv7::model<>::load(data_dir() / "v7-c128-l2.safetensors");
    const auto tokens = golden_tokens();
    auto st_a = m.make_state();
    const auto reference = run_mixed(m, tokens, 0, st_a);
    for (std::size_t prefill : {1, 7, 16, 31, 48}) {
        auto st = m.make_state();
        const auto logits = run_mixed(m, tokens, prefill, st, 13);
        INFO("prefill " << prefill);
        CHECK(max_abs_diff(logits, reference) <= 1e-5f);
        CHECK(max_abs_diff(st.values(), st_a.values()) <= 1e-5f);
    }
    // Bitwise reproducible for identical inputs.
    auto st1 = m.make_state(), st2 = m.make_state();
    CHECK(run_mixed(m, tokens, 16, st1) == run_mixed(m, tokens, 16, st2));
}
