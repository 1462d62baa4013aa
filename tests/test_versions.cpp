// RWKV-4, RWKV-5.2 and RWKV-6 against the official goldens (../shared/golden/v{4,5,6}-c128-l2.*),
// through the typed models and through the run-time entry point, plus architecture detection.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "rwkv/io/safetensors.hpp"
#include "rwkv/rwkv.hpp"
#include "model_runs.hpp"
#include "test_support.hpp"

using namespace rwkv;

namespace {

constexpr float tolerance = 1e-4f;

using rwkv_test::max_abs_diff;

std::filesystem::path golden(const std::string& name) { return rwkv_test::shared_golden_dir() / name; }

std::vector<std::int32_t> tokens_of(const std::string& prefix) {
    std::ifstream f(golden(prefix + ".tokens.json"));
    return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
}

template <class Model>
void check_model(const std::string& prefix, const std::string& file, const std::string& logits_file, bool state) {
    const auto m = Model::load(golden(file));
    const auto tokens = tokens_of(prefix);
    const auto expected = rwkv_test::read_f32(golden(logits_file));
    for (std::size_t prefill : {std::size_t{0}, std::size_t{16}, tokens.size()}) {
        auto st = m.make_state();
        const auto logits = rwkv_test::run_mixed(m, tokens, prefill, st, 16);
        const float d = max_abs_diff(logits, expected);
        INFO(file << " prefill " << prefill << ": max |dlogit| " << d);
        CHECK(d <= tolerance);
        if (state) CHECK(max_abs_diff(st.values(), rwkv_test::read_f32(golden(prefix + ".state.f32"))) <= tolerance);
    }
}

template <class Typed, class TypedBf16>
void check_version(const std::string& prefix) {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found (../shared/golden): skipping " << prefix);
        return;
    }
    SECTION(".pth f32") { check_model<Typed>(prefix, prefix + ".pth", prefix + ".logits.f32", true); }
    SECTION(".safetensors f32") { check_model<Typed>(prefix, prefix + ".safetensors", prefix + ".logits.f32", true); }
    SECTION("bf16 .pth upcast") { check_model<Typed>(prefix, prefix + ".bf16.pth", prefix + ".bf16.logits.f32", false); }
    SECTION("bf16 policy on the f32 .pth") {
        check_model<TypedBf16>(prefix, prefix + ".pth", prefix + ".bf16.logits.f32", false);
    }
    SECTION("sequence mode last logits") {
        const auto m = Typed::load(golden(prefix + ".pth"));
        auto st = m.make_state();
        const auto last = m.forward(tokens_of(prefix), st);
        CHECK(max_abs_diff(last, rwkv_test::read_f32(golden(prefix + ".seq-logits.f32"))) <= tolerance);
    }
}

}  // namespace

TEST_CASE("rwkv4 matches the official goldens", "[rwkv4][golden]") {
    check_version<rwkv4::model<>, rwkv4::model<backends::reference, precision::bf16>>("v4-c128-l2");
}

TEST_CASE("rwkv5.2 matches the official goldens", "[rwkv5][golden]") {
    check_version<rwkv5::model<>, rwkv5::model<backends::reference, precision::bf16>>("v5-c128-l2");
}

TEST_CASE("rwkv6 matches the official goldens", "[rwkv6][golden]") {
    check_version<rwkv6::model<>, rwkv6::model<backends::reference, precision::bf16>>("v6-c128-l2");
}

TEST_CASE("every golden is detected as its own version through any_model", "[detect]") {
    const std::vector<std::pair<std::string, architecture>> cases{
        {"v4-c128-l2", architecture::rwkv4}, {"v5-c128-l2", architecture::rwkv5},
        {"v6-c128-l2", architecture::rwkv6}, {"v7-c128-l2", architecture::rwkv7}};
    const auto v7 = rwkv_test::data_dir() / "v7-c128-l2.pth";
    CHECK(detect_architecture(io::tensor_file::open(v7)) == architecture::rwkv7);
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found: skipping v4/v5/v6 detection");
        return;
    }
    for (const auto& [prefix, arch] : cases) {
        for (const char* ext : {".pth", ".bf16.pth", ".safetensors"}) {
            const auto path = golden(prefix + ext);
            INFO(path);
            CHECK(detect_architecture(io::tensor_file::open(path)) == arch);
            const auto m = any_model::open(path);
            CHECK(m.summary().arch == arch);
            // The run-time interface gives the golden logits too.
            auto st = m.make_state();
            auto ws = m.make_workspace(8);
            const auto tokens = tokens_of(prefix);
            std::vector<float> logits(tokens.size() * m.summary().n_vocab);
            m.forward(tokens, st, *ws, logits, logits_mode::all);
            const std::string expected = std::string(ext) == ".bf16.pth" ? ".bf16.logits.f32" : ".logits.f32";
            CHECK(max_abs_diff(logits, rwkv_test::read_f32(golden(prefix + expected))) <= tolerance);
        }
    }
    CHECK(detect_architecture(io::tensor_file::open(golden("goldfinch-c128-l3.pth"))) == architecture::goldfinch);
    // A typed model refuses another version's checkpoint, naming both.
    CHECK_THROWS_WITH(rwkv6::model<>::load(golden("v5-c128-l2.pth")), Catch::Contains("rwkv5") && Catch::Contains("rwkv6"));
    CHECK_THROWS_AS(rwkv4::model<>::load(v7), model_error);
}

TEST_CASE("a checkpoint that matches no version is rejected with what was looked for", "[detect]") {
    rwkv_test::temp_dir dir;
    auto src = io::tensor_file::open(rwkv_test::data_dir() / "v7-c128-l2.safetensors");
    std::vector<io::tensor_to_write> kept;
    for (const auto& t : src.tensors())
        if (t.name.find(".att.") == std::string::npos) kept.push_back({t.name, t.type, t.shape, t.bytes});
    const auto path = dir.path / "noatt.safetensors";
    io::write_safetensors(path, kept, {});
    CHECK_THROWS_AS(any_model::open(path), model_error);
    CHECK_THROWS_WITH(any_model::open(path), Catch::Contains("att.k_k") && Catch::Contains("att.time_maa_x") &&
                                                 Catch::Contains("att.ln_x.weight") && Catch::Contains("time_first"));

    std::vector<io::tensor_to_write> variant;
    for (const auto& t : src.tensors()) variant.push_back({t.name, t.type, t.shape, t.bytes});
    variant.push_back({"blocks.0.ffn.s_emb.weight", variant[1].type, variant[1].shape, variant[1].bytes});
    const auto path2 = dir.path / "deepembed.safetensors";
    io::write_safetensors(path2, variant, {});
    CHECK_THROWS_AS(any_model::open(path2), unsupported_error);
}
