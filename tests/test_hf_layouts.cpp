// Hugging Face layouts (include/rwkv/io/hf_layout.hpp, hf_index.hpp; docs/formats.md): no HF file is
// in the test data, so each test builds one from a golden .pth (../shared/golden/v{4,5,6,7}-c128-l2)
// by applying what the converters do, then checks that our loader gives the .pth's logits bitwise.
//
// The forward mapping written here is read from the converters' code:
//   * RWKV-7 → fla: utils/convert_from_rwkv7.py, translate_into_fla() and the copy loop after it
//     (fla-org/flash-linear-attention), with the parameter shapes of fla/layers/rwkv7.py
//     (RWKV7Attention) and fla/models/rwkv7/modeling_rwkv7.py (RWKV7FeedForward);
//   * RWKV-4 → transformers: src/transformers/models/rwkv/convert_rwkv_checkpoint_to_hf.py,
//     convert_state_dict(); RWKV-5/6: scripts/convert_rwkv{5,6}_checkpoint_to_hf.py,
//     convert_state_dict() (BBuf/RWKV-World-HF-Tokenizer).
// So these tests prove that our inverse undoes our reading of the converters; they cannot prove
// that reading right against a real Hugging Face download.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"
#include "rwkv/io/hf_index.hpp"
#include "rwkv/io/safetensors.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/rwkv4.hpp"
#include "rwkv/rwkv5.hpp"
#include "rwkv/rwkv6.hpp"
#include "rwkv/rwkv7.hpp"
#include "test_support.hpp"

using namespace rwkv;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

fs::path golden(const std::string& name) { return rwkv_test::shared_golden_dir() / name; }

// One tensor of the file we write, owning its bytes.
struct hf_tensor {
    std::string name;
    dtype type = dtype::f32;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;
};

hf_tensor copy_of(const io::tensor_entry& t, std::string name, std::vector<std::int64_t> shape) {
    return {std::move(name), t.type, std::move(shape), {t.bytes.begin(), t.bytes.end()}};
}

std::string replace_prefix(const std::string& s, const std::string& from, const std::string& to) {
    return s.starts_with(from) ? to + s.substr(from.size()) : s;
}

// "blocks.N.rest" → {"N", "rest"}.
std::pair<std::string, std::string> split_block(const std::string& name) {
    const auto rest = name.substr(7);
    const auto dot = rest.find('.');
    return {rest.substr(0, dot), rest.substr(dot + 1)};
}

// convert_state_dict() of the transformers-style converters (RWKV-4, 5, 6): names only.
std::vector<hf_tensor> to_transformers(const io::tensor_file& pth) {
    std::vector<hf_tensor> out;
    for (const auto& t : pth.tensors()) {
        std::string n = t.name;
        if (n != "head.weight") {
            n = replace_prefix(n, "emb.", "embeddings.");
            n = replace_prefix(n, "blocks.0.ln0.", "blocks.0.pre_ln.");
            if (n.starts_with("blocks.")) {
                auto [layer, rest] = split_block(n);
                rest = replace_prefix(rest, "att.", "attention.");
                rest = replace_prefix(rest, "ffn.", "feed_forward.");
                for (auto [k, v] : {std::pair{"k", "key"}, {"v", "value"}, {"r", "receptance"}, {"g", "gate"}})
                    if (rest.ends_with(std::string(".time_mix_") + k)) rest = rest.substr(0, rest.size() - 1) + v;
                n = "blocks." + layer + "." + rest;
            }
            n = "rwkv." + n;
        }
        out.push_back(copy_of(t, n, t.shape));
    }
    return out;
}

hf_tensor transpose(const io::tensor_entry& t, std::string name) {
    REQUIRE(t.shape.size() == 2);
    const auto rows = static_cast<std::size_t>(t.shape[0]), cols = static_cast<std::size_t>(t.shape[1]);
    const std::size_t size = dtype_size(t.type);
    hf_tensor out{std::move(name), t.type, {t.shape[1], t.shape[0]}, std::vector<std::byte>(t.bytes.size())};
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j)
            std::memcpy(&out.bytes[(j * rows + i) * size], &t.bytes[(i * cols + j) * size], size);
    return out;
}

// translate_into_fla() plus fla's parameter shapes. `stacked_lerps`: the six token-shift lerps as
// one x_x [6, C], as fla's first RWKV7Attention stored them.
std::vector<hf_tensor> to_fla(const io::tensor_file& pth, bool stacked_lerps) {
    std::vector<hf_tensor> out;
    std::map<std::string, hf_tensor> x_x;  // layer → stacked lerps being built
    for (const auto& t : pth.tensors()) {
        const auto C = t.shape.empty() ? 0 : t.shape.back();
        if (t.name == "emb.weight") { out.push_back(copy_of(t, "model.embeddings.weight", t.shape)); continue; }
        if (t.name == "head.weight") { out.push_back(copy_of(t, "lm_head.weight", t.shape)); continue; }
        if (t.name.starts_with("ln_out.")) { out.push_back(copy_of(t, replace_prefix(t.name, "ln_out.", "model.norm."), t.shape)); continue; }
        REQUIRE(t.name.starts_with("blocks."));
        const auto [layer, rest] = split_block(t.name);
        const std::string block = "model.layers." + layer + ".";
        if (layer == "0" && (rest == "att.v0" || rest == "att.v1" || rest == "att.v2")) continue;  // unused_names
        std::optional<hf_tensor> h;
        for (auto [from, to] : {std::pair{"ln0.", "pre_norm."}, {"ln1.", "attn_norm."}, {"ln2.", "ffn_norm."},
                                {"ffn.key.", "ffn.key."}, {"ffn.value.", "ffn.value."},
                                {"att.receptance.", "attn.r_proj."}, {"att.key.", "attn.k_proj."},
                                {"att.value.", "attn.v_proj."}, {"att.output.", "attn.o_proj."},
                                {"att.ln_x.", "attn.g_norm."}})
            if (rest.starts_with(from)) h = copy_of(t, block + replace_prefix(rest, from, to), t.shape);
        if (rest == "ffn.x_k" || rest == "att.k_k" || rest == "att.k_a")
            h = copy_of(t, block + replace_prefix(rest, "att.", "attn."), {C});  // squeezed to [C]
        if (rest == "att.r_k") h = copy_of(t, block + "attn.r_k", t.shape);
        if (rest.size() == 7 && rest.starts_with("att.x_")) {
            if (!stacked_lerps) {
                h = copy_of(t, block + "attn." + rest.substr(4), t.shape);  // fla keeps [1, 1, C]
            } else {
                auto& s = x_x[layer];
                if (s.name.empty()) s = {block + "attn.x_x", t.type, {6, C}, std::vector<std::byte>(6 * t.bytes.size())};
                const std::string order = "rwkvag";
                const auto slot = order.find(rest[6]);
                std::memcpy(&s.bytes[slot * t.bytes.size()], t.bytes.data(), t.bytes.size());
                continue;
            }
        }
        if (rest.size() == 6 && rest.starts_with("att.") && std::string("wavg").find(rest[4]) != std::string::npos &&
            rest[5] >= '0' && rest[5] <= '2') {
            const std::string lora = block + "attn." + rest[4] + "_lora.lora.";
            if (rest[5] == '0') h = copy_of(t, lora + "2.bias", {C});
            if (rest[5] == '1') h = transpose(t, lora + "0.weight");
            if (rest[5] == '2') h = transpose(t, lora + "2.weight");
        }
        INFO(t.name);
        REQUIRE(h.has_value());
        out.push_back(std::move(*h));
    }
    for (auto& [layer, s] : x_x) out.push_back(std::move(s));
    return out;
}

std::vector<io::tensor_to_write> as_writes(const std::vector<hf_tensor>& ts) {
    std::vector<io::tensor_to_write> w;
    for (const auto& t : ts) w.push_back({t.name, t.type, t.shape, t.bytes});
    return w;
}

void write_text(const fs::path& p, const std::string& s) { rwkv_test::write_file_bytes(p, s.data(), s.size()); }

// The tensors in two shards (alternating) plus model.safetensors.index.json and config.json.
void write_sharded(const fs::path& dir, const std::vector<hf_tensor>& ts, const std::string& architecture) {
    fs::create_directories(dir);
    std::vector<hf_tensor> shard[2];
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    const std::string names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    for (std::size_t i = 0; i < ts.size(); ++i) {
        shard[i % 2].push_back(ts[i]);
        index["weight_map"][ts[i].name] = names[i % 2];
    }
    for (int s = 0; s < 2; ++s) io::write_safetensors(dir / names[s], as_writes(shard[s]), {{"format", "pt"}});
    write_text(dir / "model.safetensors.index.json", index.dump(2));
    write_text(dir / "config.json", nlohmann::json{{"architectures", {architecture}}}.dump());
}

std::vector<std::int32_t> tokens_of(const std::string& prefix) {
    std::ifstream f(golden(prefix + ".tokens.json"));
    return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
}

// Every position's logits: the whole sequence in one call, then again one token per call.
template <class Model>
std::pair<std::vector<float>, std::vector<float>> logits_of(const Model& m, const std::vector<std::int32_t>& tokens) {
    const std::size_t V = m.cfg().n_vocab;
    std::vector<float> seq(tokens.size() * V), rnn(tokens.size() * V);
    auto ws = m.make_workspace(tokens.size());
    auto st = m.make_state();
    m.forward(std::span(tokens), st, ws, std::span(seq), logits_mode::all);
    auto st2 = m.make_state();
    for (std::size_t t = 0; t < tokens.size(); ++t)
        m.forward(std::span(tokens).subspan(t, 1), st2, ws, std::span(rnn).subspan(t * V, V), logits_mode::last);
    return {seq, rnn};
}

template <class Model>
void check_layout(const std::string& prefix, const std::string& architecture,
                  const std::function<std::vector<hf_tensor>(const io::tensor_file&)>& convert) {
    if (rwkv_test::shared_golden_dir().empty()) {
        WARN("shared goldens not found (../shared/golden): skipping " << prefix);
        return;
    }
    rwkv_test::temp_dir dir;
    const auto pth = golden(prefix + ".pth");
    const auto hf = convert(io::tensor_file::open(pth));
    write_sharded(dir.path / "sharded", hf, architecture);
    fs::create_directories(dir.path / "single");
    io::write_safetensors(dir.path / "single" / "model.safetensors", as_writes(hf), {});

    const auto tokens = tokens_of(prefix);
    const auto [seq_p, rnn_p] = logits_of(Model::load(pth), tokens);
    CHECK(rwkv_test::max_abs_diff(rnn_p, rwkv_test::read_f32(golden(prefix + ".logits.f32"))) <= 1e-4f);
    for (const fs::path& p : {dir.path / "sharded", dir.path / "sharded" / "model.safetensors.index.json",
                              dir.path / "single", dir.path / "single" / "model.safetensors"}) {
        INFO(p.string());
        const auto f = io::tensor_file::open(p);
        CHECK(f.format() == "hf-safetensors");
        CHECK(f.source_layout() != io::hf_layout::none);
        const auto [seq, rnn] = logits_of(Model(io::tensor_file::open(p)), tokens);
        CHECK(seq == seq_p);  // bitwise: the same values under other names
        CHECK(rnn == rnn_p);
    }
}

}  // namespace

TEST_CASE("HF layouts: fla RWKV7ForCausalLM gives the .pth's logits (sharded, index, single file)",
          "[formats][hf][golden]") {
    SECTION("current fla (x_r..x_g)") {
        check_layout<rwkv7::model<>>("v7-c128-l2", "RWKV7ForCausalLM",
                                     [](const io::tensor_file& f) { return to_fla(f, false); });
    }
    SECTION("first fla (stacked x_x)") {
        check_layout<rwkv7::model<>>("v7-c128-l2", "RWKV7ForCausalLM",
                                     [](const io::tensor_file& f) { return to_fla(f, true); });
    }
}

TEST_CASE("HF layouts: transformers RWKV-4, 5, 6 give the .pth's logits (sharded, index, single file)",
          "[formats][hf][golden]") {
    SECTION("RwkvForCausalLM") { check_layout<rwkv4::model<>>("v4-c128-l2", "RwkvForCausalLM", to_transformers); }
    SECTION("Rwkv5ForCausalLM") { check_layout<rwkv5::model<>>("v5-c128-l2", "Rwkv5ForCausalLM", to_transformers); }
    SECTION("Rwkv6ForCausalLM") { check_layout<rwkv6::model<>>("v6-c128-l2", "Rwkv6ForCausalLM", to_transformers); }
}

TEST_CASE("HF layouts: sharding and layout errors name the file and the tensor", "[formats][hf][errors]") {
    rwkv_test::temp_dir dir;
    // A tiny transformers-layout model is enough: the errors come before any model is built.
    const std::vector<float> v(4, 1.0f);
    auto tensor = [&](const std::string& name) {
        hf_tensor t{name, dtype::f32, {4}, {}};
        const auto b = std::as_bytes(std::span(v));
        t.bytes.assign(b.begin(), b.end());
        return t;
    };
    const std::vector<hf_tensor> ts = {tensor("rwkv.embeddings.weight"), tensor("rwkv.blocks.0.ln1.weight"),
                                       tensor("rwkv.blocks.0.attention.time_mix_key"), tensor("head.weight")};
    const auto d = dir.path / "m";
    const auto index = d / "model.safetensors.index.json";
    const auto message = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const rwkv::error& e) {
            return e.what();
        }
        return "no error";
    };

    write_sharded(d, ts, "Rwkv5ForCausalLM");
    const auto f = io::tensor_file::open(d);
    CHECK(f.find("blocks.0.att.time_mix_k") != nullptr);
    CHECK(f.find("blocks.0.ln1.weight") != nullptr);

    SECTION("a missing shard") {
        fs::remove(d / "model-00002-of-00002.safetensors");
        CHECK_THROWS_AS(io::tensor_file::open(d), io_error);
        CHECK_THAT(message([&] { (void)io::tensor_file::open(index); }),
                   Contains(index.string()) && Contains("model-00002-of-00002.safetensors"));
    }
    SECTION("a tensor in two shards") {
        std::vector<hf_tensor> both = {ts[0], ts[1]};
        io::write_safetensors(d / "model-00002-of-00002.safetensors", as_writes(both), {});
        CHECK_THROWS_AS(io::tensor_file::open(d), format_error);
        CHECK_THAT(message([&] { (void)io::tensor_file::open(d); }),
                   Contains(index.string()) && Contains("'rwkv.embeddings.weight' is in two shards"));
    }
    SECTION("a tensor the index lists but its shard lacks") {
        std::vector<hf_tensor> fewer = {ts[1]};
        io::write_safetensors(d / "model-00002-of-00002.safetensors", as_writes(fewer), {});
        CHECK_THROWS_AS(io::tensor_file::open(index), model_error);
        CHECK_THAT(message([&] { (void)io::tensor_file::open(index); }),
                   Contains(index.string()) && Contains("'head.weight' is missing from shard"));
    }
    SECTION("an unknown layout") {
        write_sharded(d, {tensor("transformer.wte.weight"), tensor("transformer.h.0.ln_1.weight")}, "RwkvForCausalLM");
        CHECK_THROWS_AS(io::tensor_file::open(d), unsupported_error);
        CHECK_THAT(message([&] { (void)io::tensor_file::open(d); }),
                   Contains(index.string()) && Contains("unknown tensor layout"));
    }
    SECTION("a name outside a known layout") {
        write_sharded(d, {tensor("model.embeddings.weight"), tensor("model.layers.0.attn.q_proj.weight")},
                      "RWKV7ForCausalLM");
        CHECK_THROWS_AS(io::tensor_file::open(d), unsupported_error);
        CHECK_THAT(message([&] { (void)io::tensor_file::open(d); }),
                   Contains(index.string()) && Contains("'model.layers.0.attn.q_proj.weight'") && Contains("fla-rwkv7"));
    }
    SECTION("an architecture we do not read") {
        write_text(d / "config.json", R"({"architectures": ["LlamaForCausalLM"]})");
        CHECK_THROWS_AS(io::tensor_file::open(d), unsupported_error);
        CHECK_THAT(message([&] { (void)io::tensor_file::open(d); }), Contains("LlamaForCausalLM"));
    }
    SECTION("malformed indexes") {
        for (const char* bad : {"{", R"({"metadata": {}})", R"({"weight_map": []})", R"({"weight_map": {}})",
                                R"({"weight_map": {"a": 1}})", R"({"weight_map": {"a": "../x.safetensors"}})"}) {
            INFO(bad);
            write_text(index, bad);
            CHECK_THROWS_AS(io::tensor_file::open(index), format_error);
            CHECK_THAT(message([&] { (void)io::tensor_file::open(index); }), Contains(index.string()));
        }
    }
    SECTION("a folder without a model") {
        const auto empty = dir.path / "empty";
        fs::create_directories(empty);
        CHECK_THROWS_AS(io::tensor_file::open(empty), io_error);
    }
    SECTION("tie_word_embeddings gives the head the embedding") {
        write_sharded(d, {ts[0], ts[1], ts[2]}, "Rwkv5ForCausalLM");
        CHECK(io::tensor_file::open(d).find("head.weight") == nullptr);
        write_text(d / "config.json", R"({"architectures": ["Rwkv5ForCausalLM"], "tie_word_embeddings": true})");
        const auto tied = io::tensor_file::open(d);
        REQUIRE(tied.find("head.weight") != nullptr);
        CHECK(tied.find("head.weight")->bytes.data() == tied.find("emb.weight")->bytes.data());
    }
}
