// `rwkv-cli convert` / any_model::save_converted (tooling/convert.hpp) and quantized matrices inside
// .safetensors files (io/quantized_tensors.hpp): a converted file gives bitwise the model that
// converting at load gives, its matrices are used in place, and malformed quantized entries are
// typed errors naming the tensor.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "rwkv/any_model.hpp"
#include "rwkv/backends/cpu.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "model_runs.hpp"
#include "test_support.hpp"

using namespace rwkv;

namespace {

struct golden_model {
    std::string prefix;
    std::filesystem::path dir;
};

std::vector<golden_model> golden_models() {
    std::vector<golden_model> cases{{"v7-c128-l2", rwkv_test::data_dir()}};
    if (const auto shared = rwkv_test::shared_golden_dir(); !shared.empty())
        for (const char* p : {"v4-c128-l2", "v5-c128-l2", "v6-c128-l2", "goldfinch-c128-l3"}) cases.push_back({p, shared});
    else
        WARN("shared goldens not found: convert checked on RWKV-7 only");
    return cases;
}

std::vector<std::int32_t> golden_tokens(const golden_model& g) {
    std::ifstream f(g.dir / (g.prefix + ".tokens.json"));
    return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
}

// A small .safetensors with one I8 codes tensor, its scales, and the given quantization index.
void write_quantized_file(const std::filesystem::path& p, const std::string& index, dtype codes_type,
                          std::vector<std::int64_t> codes_shape, std::vector<std::int64_t> scale_shape,
                          bool with_scales = true) {
    std::vector<std::byte> codes(static_cast<std::size_t>(codes_shape[0] * codes_shape[1]));
    std::vector<float> scales(static_cast<std::size_t>(scale_shape[0] * scale_shape[1]), 0.5f);
    std::vector<io::tensor_to_write> t{{"w", codes_type, codes_shape, codes}};
    if (with_scales) t.push_back({"w.scales", dtype::f32, scale_shape, std::as_bytes(std::span(scales))});
    std::map<std::string, std::string> md;
    if (!index.empty()) md[io::quantized_metadata_key] = index;
    io::write_safetensors(p, t, md);
}

open_options int8_options() {
    open_options o;
    o.precision = "int8";
    return o;
}

}  // namespace

TEST_CASE("a converted file loads to bitwise the model converted at load", "[convert][golden]") {
    rwkv_test::temp_dir tmp;
    for (const auto& g : golden_models()) {
        const auto tokens = golden_tokens(g);
        for (const char* precision : {"f32", "bf16", "int8", "int4"}) {
            INFO(g.prefix << " " << precision);
            open_options o;
            o.precision = precision;
            const auto at_load = any_model::open(g.dir / (g.prefix + ".pth"), o);
            const auto out = tmp.path / (g.prefix + "." + precision + ".safetensors");
            at_load.save_converted(out);
            const auto converted = any_model::open(out, o);
            const auto [logits_a, state_a] = rwkv_test::prefill_then_decode(at_load, tokens);
            const auto [logits_b, state_b] = rwkv_test::prefill_then_decode(converted, tokens);
            CHECK(logits_a == logits_b);
            CHECK(state_a == state_b);
            CHECK(at_load.summary().weight_bytes_per_token == converted.summary().weight_bytes_per_token);
            if (std::string(precision) == "f32") {  // still the official model
                const auto golden = rwkv_test::read_f32(g.dir / (g.prefix + ".logits.f32"));
                CHECK(rwkv_test::max_abs_diff(logits_b, golden) <= 1e-4f);
            }
        }
    }
}

TEST_CASE("a converted quantized file is used in place", "[convert]") {
    rwkv_test::temp_dir tmp;
    const auto src = rwkv_test::data_dir() / "v7-c128-l2.pth";
    const auto out = tmp.path / "v7.int8.safetensors";
    any_model::open(src, int8_options()).save_converted(out);

    const auto file = io::tensor_file::open(out);
    const auto* key = file.find("blocks.0.att.key.weight");
    REQUIRE(key != nullptr);
    CHECK(key->quant_bits == 8);
    CHECK(key->shape == std::vector<std::int64_t>{128, 128});
    CHECK(file.find("blocks.0.att.key.weight.scales") == nullptr);  // merged into the entry
    CHECK(file.metadata().at("rwkv.precision") == "int8");

    const auto m = rwkv7::model<backends::cpu, precision::int8>::load(out);
    CHECK(m.weights().codes.empty());  // no matrix was quantized (or copied) at load
    CHECK(m.weights().packed.empty());

    // The same file under f32 dequantizes: the values the codes stand for, not a load error.
    const auto f32 = rwkv7::model<backends::cpu, precision::f32>::load(out);
    const auto& head = m.io().head;
    CHECK(f32.io().head(3, 5) == head(3, 5));
}

TEST_CASE("malformed quantized tensors are typed errors naming the tensor", "[convert][errors]") {
    rwkv_test::temp_dir tmp;
    const auto p = tmp.path / "q.safetensors";
    const std::string good = R"({"w": {"format": "int8", "shape": [2, 40]}})";
    auto expect = [&]<class E>(E, const std::string& fragment) {
        try {
            io::tensor_file::open(p);
            FAIL("no error; expected one mentioning " << fragment);
        } catch (const E& e) {
            CHECK_THAT(e.what(), Catch::Contains(fragment));
        }
    };

    write_quantized_file(p, good, dtype::i8, {2, 64}, {2, 2});
    {
        const auto f = io::tensor_file::open(p);
        REQUIRE(f.find("w") != nullptr);
        CHECK(f.find("w")->quant_bits == 8);
        CHECK(f.find("w")->shape == std::vector<std::int64_t>{2, 40});
    }
    write_quantized_file(p, good, dtype::i8, {2, 32}, {2, 2});
    expect(format_error{""}, "'w' (int8 codes) has dtype i8 shape [2, 32], expected i8 [2, 64]");
    write_quantized_file(p, good, dtype::u8, {2, 64}, {2, 2});
    expect(format_error{""}, "expected i8 [2, 64]");
    write_quantized_file(p, good, dtype::i8, {2, 64}, {2, 3});
    expect(format_error{""}, "'w.scales' has dtype f32 shape [2, 3], expected f32 [2, 2]");
    write_quantized_file(p, good, dtype::i8, {2, 64}, {2, 2}, false);
    expect(format_error{""}, "its scales 'w.scales' are missing");
    write_quantized_file(p, R"({"w": {"format": "int3", "shape": [2, 40]}})", dtype::i8, {2, 64}, {2, 2});
    expect(format_error{""}, "\"format\" must be \"int8\" or \"int4\"");
    write_quantized_file(p, R"({"v": {"format": "int8", "shape": [2, 40]}})", dtype::i8, {2, 64}, {2, 2});
    expect(format_error{""}, "tensor 'v' is listed but not stored");
    write_quantized_file(p, R"({"w": {"format": "int8", "shape": [0, 40]}})", dtype::i8, {2, 64}, {2, 2});
    expect(format_error{""}, "positive integers");
    write_quantized_file(p, "[1, 2]", dtype::i8, {2, 64}, {2, 2});
    expect(format_error{""}, "expected a JSON object");
    write_quantized_file(p, "{", dtype::i8, {2, 64}, {2, 2});
    expect(format_error{""}, "not valid JSON");

    // I8 bytes that are not listed as a quantized matrix cannot become weights.
    const auto src = rwkv_test::data_dir() / "v7-c128-l2.pth";
    const auto out = tmp.path / "v7.int8.safetensors";
    any_model::open(src, int8_options()).save_converted(out);
    {
        // Drop the index: the codes are then plain I8 tensors of the wrong shape.
        const auto f = io::tensor_file::open(out);
        std::vector<io::tensor_to_write> t;
        for (const auto& e : f.tensors()) {
            if (e.quant_bits == 0) {
                t.push_back({e.name, e.type, e.shape, e.bytes});
                continue;
            }
            const auto rows = e.shape[0], cols = e.shape[1];
            t.push_back({e.name, e.type, {rows, static_cast<std::int64_t>(io::quantized_row_bytes(8, static_cast<std::size_t>(cols)))}, e.bytes});
            t.push_back({e.name + ".scales", dtype::f32, {rows, static_cast<std::int64_t>(io::quantized_row_blocks(static_cast<std::size_t>(cols)))}, e.scales});
        }
        auto md = std::map<std::string, std::string>(f.metadata().begin(), f.metadata().end());
        md.erase(io::quantized_metadata_key);
        io::write_safetensors(tmp.path / "unlisted.safetensors", t, md);
    }
    try {
        any_model::open(tmp.path / "unlisted.safetensors", int8_options());
        FAIL("loaded a model whose matrices are unlisted I8 tensors");
    } catch (const error& e) {
        CHECK_THAT(e.what(), Catch::Contains("unlisted.safetensors"));
    }
}

#ifdef RWKV_TEST_CLI
TEST_CASE("rwkv-cli convert writes a model that eval reads; bad arguments exit 2/3", "[convert][cli]") {
    rwkv_test::temp_dir tmp;
    const std::string src = (rwkv_test::data_dir() / "v7-c128-l2.pth").string();
    const std::string out = (tmp.path / "v7.int4.safetensors").string();
    auto r = rwkv_test::run_command(RWKV_TEST_CLI, {"convert", "--model", src, "--precision", "int4", "--out", out}, tmp);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("rwkv7, int4"));
    const std::string tokens = (rwkv_test::data_dir() / "v7-c128-l2.tokens.json").string();
    const std::string a = (tmp.path / "a.f32").string(), b = (tmp.path / "b.f32").string();
    REQUIRE(rwkv_test::run_command(RWKV_TEST_CLI, {"eval", "--model", out, "--precision", "int4", "--tokens", tokens,
                                                    "--logits-out", a}, tmp).code == 0);
    REQUIRE(rwkv_test::run_command(RWKV_TEST_CLI, {"eval", "--model", src, "--precision", "int4", "--tokens", tokens,
                                                    "--logits-out", b}, tmp).code == 0);
    CHECK(rwkv_test::read_file_bytes(a) == rwkv_test::read_file_bytes(b));

    CHECK(rwkv_test::run_command(RWKV_TEST_CLI, {"convert", "--model", src, "--precision", "int3", "--out", out}, tmp).code == 2);
    CHECK(rwkv_test::run_command(RWKV_TEST_CLI, {"convert", "--model", src, "--out", src}, tmp).code == 2);
    CHECK(rwkv_test::run_command(RWKV_TEST_CLI, {"convert", "--model", (tmp.path / "missing.pth").string(), "--out", out}, tmp)
              .code == 3);
}
#endif
