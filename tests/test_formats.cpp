// Formats that feed the RWKV-7 golden in other forms: state-tuning files (--state-init) and, from
// the same translation unit to keep the build small, GGUF files we write ourselves.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/io/safetensors.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/rwkv7.hpp"
#include "rwkv/io/gguf.hpp"
#include "rwkv/state/state_tuning.hpp"
#include "rwkv/tooling/gguf_export.hpp"
#include "test_support.hpp"

using namespace rwkv;
using Catch::Matchers::Contains;
using rwkv_test::data_dir;
using rwkv_test::max_abs_diff;
using rwkv_test::read_f32;

namespace {

std::vector<std::int32_t> golden_tokens() {
    std::ifstream f(data_dir() / "v7-c128-l2.tokens.json");
    return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
}

// A hand-made layout like the models make: per layer x_prev [C], kv [H, N, N], ffn x_prev [C].
std::shared_ptr<const state_layout> toy_layout(architecture arch, std::size_t layers, std::size_t H, std::size_t N) {
    auto l = std::make_shared<state_layout>();
    l->arch = arch;
    l->n_layer = layers;
    l->n_embd = H * N;
    l->n_head = H;
    l->head_size = N;
    for (std::size_t i = 0; i < layers; ++i) {
        const std::string p = "blocks." + std::to_string(i);
        l->add(p + ".att.x_prev", {H * N});
        l->add(p + ".att.kv", {H, N, N});
        l->add(p + ".ffn.x_prev", {H * N});
    }
    return l;
}

struct time_state_tensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};

std::string write_time_state_file(const rwkv_test::temp_dir& dir, const std::vector<time_state_tensor>& ts) {
    std::vector<io::tensor_to_write> w;
    for (const auto& t : ts) w.push_back({t.name, dtype::f32, t.shape, std::as_bytes(std::span(t.values))});
    const auto p = dir.path / "state.safetensors";
    io::write_safetensors(p, w, {});
    return p.string();
}

}  // namespace

TEST_CASE("state tuning: orientation per version (v5/v6 transposed, v7 as stored)", "[state][state_tuning]") {
    rwkv_test::temp_dir dir;
    const std::size_t H = 2, N = 3;
    // file[l][h][a][b] = 1000·l + 100·h + 10·a + b: every position distinct.
    std::vector<time_state_tensor> ts;
    for (std::size_t l = 0; l < 2; ++l) {
        time_state_tensor t{"blocks." + std::to_string(l) + ".att.time_state", {2, 3, 3}, {}};
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t a = 0; a < N; ++a)
                for (std::size_t b = 0; b < N; ++b) t.values.push_back(static_cast<float>(1000 * l + 100 * h + 10 * a + b));
        ts.push_back(t);
    }
    ts.push_back({"some.other.tensor", {1}, {7.0f}});  // ignored
    const auto path = write_time_state_file(dir, ts);
    for (const auto arch : {architecture::rwkv5, architecture::rwkv6, architecture::rwkv7}) {
        INFO(architecture_name(arch));
        state st(toy_layout(arch, 2, H, N));
        for (auto& v : st.values()) v = -1.0f;  // other entries must stay as they are
        apply_state_tuning(st, std::filesystem::path(path));
        const bool transposed = arch != architecture::rwkv7;
        for (std::size_t l = 0; l < 2; ++l) {
            const auto kv = st.entry(3 * l + 1);
            for (std::size_t h = 0; h < H; ++h)
                for (std::size_t i = 0; i < N; ++i)
                    for (std::size_t j = 0; j < N; ++j) {
                        const std::size_t a = transposed ? j : i, b = transposed ? i : j;
                        CHECK(kv[(h * N + i) * N + j] == static_cast<float>(1000 * l + 100 * h + 10 * a + b));
                    }
            for (float v : st.entry(3 * l)) CHECK(v == -1.0f);
            for (float v : st.entry(3 * l + 2)) CHECK(v == -1.0f);
        }
        // save_state_tuning writes the same file orientation back.
        const auto again = dir.path / "again.safetensors";
        save_state_tuning(st, again);
        const auto f = io::tensor_file::open(again);
        const auto& t1 = f.require("blocks.1.att.time_state");
        REQUIRE(t1.bytes.size() == ts[1].values.size() * 4);
        CHECK(std::memcmp(t1.bytes.data(), ts[1].values.data(), t1.bytes.size()) == 0);
    }
}

TEST_CASE("state tuning: files that do not fit are refused with typed errors", "[state][state_tuning][errors]") {
    rwkv_test::temp_dir dir;
    const std::vector<float> nine(2 * 3 * 3, 0.5f);
    state v7(toy_layout(architecture::rwkv7, 2, 2, 3));
    auto apply = [&](const std::vector<time_state_tensor>& ts) {
        const auto p = write_time_state_file(dir, ts);
        apply_state_tuning(v7, std::filesystem::path(p));
    };
    const time_state_tensor l0{"blocks.0.att.time_state", {2, 3, 3}, nine}, l1{"blocks.1.att.time_state", {2, 3, 3}, nine};
    CHECK_NOTHROW(apply({l0, l1}));
    CHECK_THROWS_MATCHES(apply({l0}), state_error,
                         Catch::Matchers::Message(
                             (dir.path / "state.safetensors").string() +
                             ": tensor 'blocks.1.att.time_state' is missing; a state-tuning file for this model has one "
                             "per layer (2 layers, each [2, 3, 3])"));
    CHECK_THROWS_MATCHES(apply({l0, l1, {"blocks.2.att.time_state", {2, 3, 3}, nine}}), state_error,
                         Catch::Matchers::Message((dir.path / "state.safetensors").string() +
                                                  ": tensor 'blocks.2.att.time_state' is for layer 2, but the model has 2 "
                                                  "layers (blocks.0 … blocks.1)"));
    CHECK_THROWS_MATCHES(apply({l0, {"blocks.1.att.time_state", {3, 3, 2}, nine}}), state_error,
                         Catch::Matchers::Message((dir.path / "state.safetensors").string() +
                                                  ": tensor 'blocks.1.att.time_state' has shape [3, 3, 2], expected "
                                                  "[2, 3, 3] (n_head, head_size, head_size)"));
    CHECK_THROWS_WITH(apply({{"emb.weight", {1}, {1.0f}}}), Contains("no 'blocks.N.att.time_state' tensors"));
    state v4(toy_layout(architecture::rwkv4, 2, 2, 3));
    const auto p = write_time_state_file(dir, {l0, l1});
    CHECK_THROWS_MATCHES(apply_state_tuning(v4, std::filesystem::path(p)), unsupported_error,
                         Catch::Matchers::Message(p + ": a state-tuning file sets the matrix (WKV) state of an RWKV-5, -6 "
                                                      "or -7 model; this model is rwkv4, which has none that such a file describes"));
    CHECK_THROWS_AS(apply_state_tuning(v7, std::filesystem::path(dir.path / "absent.pth")), io_error);
}

TEST_CASE("state tuning on the RWKV-7 golden: the file's state is the state the model continues from",
          "[state][state_tuning][golden]") {
    rwkv_test::temp_dir dir;
    const auto m = rwkv7::model<>::load(data_dir() / "v7-c128-l2.pth");
    const auto golden_state = read_f32(data_dir() / "v7-c128-l2.state.f32");  // after the 48 golden tokens
    // The known state: the golden's matrix states (official runtime orientation, S[h][value][key]),
    // token-shift vectors zero as a state-tuning loader leaves them.
    auto known = m.make_state();
    REQUIRE(golden_state.size() == known.values().size());
    for (std::size_t e = 0; e < known.layout().entries.size(); ++e) {
        const auto& entry = known.layout().entries[e];
        if (!entry.name.ends_with(".att.kv")) continue;
        std::copy_n(golden_state.begin() + static_cast<std::ptrdiff_t>(entry.offset), entry.count,
                    known.entry(e).begin());
    }
    const auto file = dir.path / "v7.time_state.safetensors";
    save_state_tuning(known, file);
    // RWKV-7 files hold the runtime orientation: the tensor is the golden's entry byte for byte.
    const auto f = io::tensor_file::open(file);
    const auto& t0 = f.require("blocks.0.att.time_state");
    CHECK(t0.shape == std::vector<std::int64_t>{2, 64, 64});
    CHECK(std::memcmp(t0.bytes.data(), golden_state.data() + 128, t0.bytes.size()) == 0);

    auto loaded = m.make_state();
    apply_state_tuning(loaded, file);
    CHECK(std::memcmp(loaded.values().data(), known.values().data(), known.values().size() * 4) == 0);

    const auto tokens = golden_tokens();
    const auto from_known = m.forward(std::span(tokens).first(8), known, logits_mode::all);
    const auto from_file = m.forward(std::span(tokens).first(8), loaded, logits_mode::all);
    CHECK(from_file == from_known);
    // And the matrix state matters: a fresh state gives other logits.
    auto fresh = m.make_state();
    CHECK(max_abs_diff(m.forward(std::span(tokens).first(8), fresh, logits_mode::all), from_known) > 1e-3f);

#ifdef RWKV_TEST_CLI
    // rwkv-cli eval / bench / generate --state-init: eval's logits are the library's.
    const auto tokens_path = dir.path / "tokens.json";
    {
        std::ofstream(tokens_path) << nlohmann::json(std::vector<std::int32_t>(tokens.begin(), tokens.begin() + 8)).dump();
    }
    const auto out = dir.path / "logits.f32";
    for (const char* mode : {"rnn", "seq"}) {
        const auto r = rwkv_test::run_command(RWKV_TEST_CLI,
                                              {"eval", "--model", (data_dir() / "v7-c128-l2.pth").string(), "--tokens",
                                               tokens_path.string(), "--logits-out", out.string(), "--state-init",
                                               file.string(), "--backend", "reference", "--mode", mode},
                                              dir);
        INFO(mode << ": " << r.err);
        REQUIRE(r.code == 0);
        const float d = max_abs_diff(read_f32(out), from_known);
        UNSCOPED_INFO("eval --state-init (" << mode << ") vs library: max |d| " << d);
        CHECK(d <= 1e-5f);
    }
    const auto bench = rwkv_test::run_command(
        RWKV_TEST_CLI,
        {"bench", "--model", (data_dir() / "v7-c128-l2.pth").string(), "--state-init", file.string(), "--decode", "4",
         "--prefill", "4", "--limits-seconds", "0.05", "--prefill-seconds", "0", "--threads", "1", "--json"},
        dir);
    INFO(bench.err);
    CHECK(bench.code == 0);
    const auto gen = rwkv_test::run_command(RWKV_TEST_CLI,
                                            {"generate", "--model", (data_dir() / "v7-c128-l2.pth").string(), "--vocab",
                                             "bytes", "--prompt", "hi", "-n", "4", "--state-init", file.string()},
                                            dir);
    INFO(gen.err);
    CHECK(gen.code == 0);
    // A file for another shape: one line, the state exit code (7).
    state other(toy_layout(architecture::rwkv7, 2, 2, 3));
    save_state_tuning(other, dir.path / "small.safetensors");
    const auto bad = rwkv_test::run_command(RWKV_TEST_CLI,
                                            {"eval", "--model", (data_dir() / "v7-c128-l2.pth").string(), "--tokens",
                                             tokens_path.string(), "--logits-out", out.string(), "--state-init",
                                             (dir.path / "small.safetensors").string()},
                                            dir);
    CHECK(bad.code == 7);
    CHECK_THAT(bad.err, Contains("tensor 'blocks.0.att.time_state' has shape [2, 3, 3], expected [2, 64, 64]"));
#endif
}

// ---- GGUF written by convert --to gguf ----------------------------------------------------------

namespace {

std::filesystem::path shared_gguf(const std::string& name) {
    const auto golden = rwkv_test::shared_golden_dir();
    if (golden.empty() || !std::filesystem::exists(golden / "gguf" / name)) return {};
    return golden / "gguf" / name;
}

// Logits of every golden token, RNN mode, then of one sequence call.
template <class Model>
std::pair<std::vector<float>, std::vector<float>> all_logits(const Model& m) {
    const auto tokens = golden_tokens();
    const std::size_t V = m.cfg().n_vocab;
    auto st = m.make_state();
    auto ws = m.make_workspace(64);
    std::vector<float> rnn(tokens.size() * V);
    for (std::size_t t = 0; t < tokens.size(); ++t)
        m.forward(std::span(tokens).subspan(t, 1), st, ws, std::span(rnn).subspan(t * V, V), logits_mode::last);
    auto st2 = m.make_state();
    return {rnn, m.forward(tokens, st2, logits_mode::all)};
}

}  // namespace

TEST_CASE("gguf writer: pth -> gguf (f32) gives bitwise the tensors and logits of the pth", "[gguf][gguf_write][golden]") {
    rwkv_test::temp_dir dir;
    const auto pth = data_dir() / "v7-c128-l2.pth";
    const auto out = dir.path / "v7.gguf";
    write_rwkv7_gguf(io::tensor_file::open(pth), out, dtype::f32);

    const auto g = io::tensor_file::open(out);
    const auto p = io::tensor_file::open(pth);
    CHECK(g.format() == "gguf");
    std::size_t matched = 0;
    for (const auto& t : p.tensors()) {
        INFO(t.name);
        const auto* e = g.find(t.name);
        if (t.name == "blocks.0.att.v0" || t.name == "blocks.0.att.v1" || t.name == "blocks.0.att.v2") {
            // layer 0's unused v0/v1/v2: dropped by the reader
            CHECK(e == nullptr);
            continue;
        }
        REQUIRE(e != nullptr);
        ++matched;
        CHECK(e->shape == t.shape);
        REQUIRE(e->type == dtype::f32);
        REQUIRE(e->bytes.size() == t.bytes.size());
        CHECK(std::memcmp(e->bytes.data(), t.bytes.data(), t.bytes.size()) == 0);
    }
    CHECK(g.tensors().size() == matched);

    const auto [rnn_p, seq_p] = all_logits(rwkv7::model<>::load(pth));
    const auto [rnn_g, seq_g] = all_logits(rwkv7::model<>::load(out));
    CHECK(rnn_g == rnn_p);
    CHECK(seq_g == seq_p);
    CHECK(max_abs_diff(rnn_g, read_f32(data_dir() / "v7-c128-l2.logits.f32")) <= 1e-4f);

    // f16 storage: the matrices rounded to f16, within a bound of the f32 logits.
    const auto out16 = dir.path / "v7.f16.gguf";
    write_rwkv7_gguf(io::tensor_file::open(pth), out16, dtype::f16);
    CHECK(io::tensor_file::open(out16).require("blocks.0.att.key.weight").type == dtype::f16);
    const auto [rnn_16, seq_16] = all_logits(rwkv7::model<>::load(out16));
    const float d16 = max_abs_diff(rnn_16, rnn_p);
    WARN("pth -> gguf f16: max |dlogit| vs the pth at f32 " << d16 << " (sequence " << max_abs_diff(seq_16, seq_p) << ")");
    CHECK(d16 <= 0.05f);

    // And back: gguf -> safetensors keeps every value (through the tensor reader).
    std::vector<io::tensor_to_write> w;
    for (const auto& t : g.tensors()) w.push_back({t.name, t.type, t.shape, t.bytes});
    io::write_safetensors(dir.path / "back.safetensors", w, {});
    const auto [rnn_b, seq_b] = all_logits(rwkv7::model<>::load(dir.path / "back.safetensors"));
    CHECK(rnn_b == rnn_p);
}

TEST_CASE("gguf writer: the layout llama.cpp's converter writes (names, dimensions, types, metadata)",
          "[gguf][gguf_write][golden]") {
    const auto ref16 = shared_gguf("v7-c128-l2.f16.gguf");
    const auto ref32 = shared_gguf("v7-c128-l2.f32.gguf");
    if (ref16.empty() || ref32.empty()) {
        WARN("shared GGUF goldens not found (../shared/golden/gguf): skipped");
        return;
    }
    rwkv_test::temp_dir dir;
    // llama.cpp's f16 file was converted from the bf16 checkpoint: ours from the same source.
    const auto ours16 = dir.path / "ours.f16.gguf";
    write_rwkv7_gguf(io::tensor_file::open(data_dir() / "v7-c128-l2.bf16.pth"), ours16, dtype::f16);
    const auto read_raw = [](const std::filesystem::path& p, std::vector<char>& keep) {
        keep = rwkv_test::read_file_bytes(p);
        return io::read_gguf(std::as_bytes(std::span(keep)), p.string());
    };
    std::vector<char> a_bytes, b_bytes;
    const auto ours = read_raw(ours16, a_bytes);
    const auto theirs = read_raw(ref16, b_bytes);
    REQUIRE(ours.tensors.size() == theirs.tensors.size());
    std::map<std::string, const io::gguf_tensor_info*> by_name;
    for (const auto& t : ours.tensors) by_name[t.name] = &t;
    std::size_t equal_bytes = 0;
    for (const auto& t : theirs.tensors) {
        INFO(t.name);
        REQUIRE(by_name.count(t.name) == 1);
        const auto& o = *by_name[t.name];
        CHECK(o.ne == t.ne);
        CHECK(io::ggml_type_name(o.type) == io::ggml_type_name(t.type));
        if (o.bytes.size() == t.bytes.size() && std::memcmp(o.bytes.data(), t.bytes.data(), t.bytes.size()) == 0)
            ++equal_bytes;
    }
    // Every tensor byte for byte what llama.cpp wrote (the bf16 -> f16 rounding included).
    CHECK(equal_bytes == theirs.tensors.size());
    for (const auto& [k, v] : theirs.metadata) {
        if (k.starts_with("tokenizer.") || k == "general.name" || k == "general.size_label") continue;
        INFO(k);
        REQUIRE(ours.metadata.count(k) == 1);
        CHECK(ours.metadata.at(k) == v);
    }

    // A GGUF source: its vocabulary goes along, and the result reads like the source.
    const auto again = dir.path / "again.gguf";
    write_rwkv7_gguf(io::tensor_file::open(ref32), again, dtype::f32);
    const auto src = io::tensor_file::open(ref32);
    const auto dst = io::tensor_file::open(again);
    for (const char* k : {"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                          "tokenizer.ggml.eot_token_id", "tokenizer.chat_template"})
        CHECK(dst.metadata().at(k) == src.metadata().at(k));
    for (const auto& t : src.tensors()) {
        INFO(t.name);
        const auto& e = dst.require(t.name);
        CHECK(e.shape == t.shape);
        CHECK(std::memcmp(e.bytes.data(), t.bytes.data(), t.bytes.size()) == 0);
    }
}

TEST_CASE("gguf writer: what it refuses", "[gguf][gguf_write][errors]") {
    rwkv_test::temp_dir dir;
    const auto pth = io::tensor_file::open(data_dir() / "v7-c128-l2.pth");
    CHECK_THROWS_AS(write_rwkv7_gguf(pth, dir.path / "x.gguf", dtype::i8), unsupported_error);
    // Not RWKV-7: a hand-made RWKV-4-like file.
    const std::vector<float> one(4, 1.0f);
    io::write_safetensors(dir.path / "v4.safetensors",
                          std::vector<io::tensor_to_write>{{"emb.weight", dtype::f32, {2, 2}, std::as_bytes(std::span(one))}},
                          {});
    CHECK_THROWS(write_rwkv7_gguf(io::tensor_file::open(dir.path / "v4.safetensors"), dir.path / "y.gguf", dtype::f32));
    CHECK_FALSE(std::filesystem::exists(dir.path / "y.gguf"));
}

#ifdef RWKV_TEST_CLI
TEST_CASE("rwkv-cli convert --to gguf: by flag or extension, and eval reads the result", "[gguf][gguf_write][cli]") {
    rwkv_test::temp_dir dir;
    const auto pth = (data_dir() / "v7-c128-l2.pth").string();
    const auto tokens = (data_dir() / "v7-c128-l2.tokens.json").string();
    auto cli = [&](std::vector<std::string> args) { return rwkv_test::run_command(RWKV_TEST_CLI, args, dir); };
    const auto by_ext = (dir.path / "m.gguf").string(), by_flag = (dir.path / "m.bin").string();
    auto r = cli({"convert", "--model", pth, "--out", by_ext});
    INFO(r.err);
    REQUIRE(r.code == 0);
    r = cli({"convert", "--model", pth, "--out", by_flag, "--to", "gguf", "--precision", "f16"});
    REQUIRE(r.code == 0);
    CHECK(io::tensor_file::open(by_ext).format() == "gguf");
    CHECK(io::tensor_file::open(by_flag).require("head.weight").type == dtype::f16);
    const auto l_pth = (dir.path / "pth.f32").string(), l_gguf = (dir.path / "gguf.f32").string();
    REQUIRE(cli({"eval", "--model", pth, "--tokens", tokens, "--logits-out", l_pth}).code == 0);
    REQUIRE(cli({"eval", "--model", by_ext, "--tokens", tokens, "--logits-out", l_gguf}).code == 0);
    CHECK(read_f32(l_gguf) == read_f32(l_pth));
    // --to safetensors overrides the extension; bad values are usage errors.
    r = cli({"convert", "--model", pth, "--out", (dir.path / "s.gguf").string(), "--to", "safetensors", "--precision", "f32"});
    REQUIRE(r.code == 0);
    CHECK(io::tensor_file::open(dir.path / "s.gguf").format() == "safetensors");
    CHECK(cli({"convert", "--model", pth, "--out", by_ext, "--to", "onnx"}).code == 2);
    // --vocab: a World vocabulary stored in the file, which generate then uses without --vocab.
    const auto vocab = dir.path / "vocab.txt";
    {
        std::ofstream(vocab) << "1 'a' 1\n2 'b' 1\n3 '\\n' 1\n5 b'\\xff\\\\' 2\n";
    }
    const auto with_vocab = (dir.path / "v.gguf").string();
    r = cli({"convert", "--model", pth, "--out", with_vocab, "--vocab", vocab.string()});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto v = io::tensor_file::open(with_vocab);
    CHECK(v.metadata().at("tokenizer.ggml.model") == "rwkv");
    const auto tokens_md = nlohmann::json::parse(v.metadata().at("tokenizer.ggml.tokens"));
    REQUIRE(tokens_md.size() == 256);
    CHECK(tokens_md[0] == "<s>");
    CHECK(tokens_md[1] == "a");
    CHECK(tokens_md[3] == "\\n");
    CHECK(tokens_md[4] == "[PAD4]");
    CHECK(tokens_md[5] == "\\xff\\\\");
    const auto types_md = nlohmann::json::parse(v.metadata().at("tokenizer.ggml.token_type"));
    CHECK(types_md[0] == 3);
    CHECK(types_md[1] == 1);
    CHECK(types_md[4] == 4);
    // generate takes the stored vocabulary: "ab" encodes, "z" (no such token) does not; the .pth
    // alone falls back to the byte tokenizer, which encodes anything.
    const auto g1 = cli({"generate", "--model", with_vocab, "--prompt", "ab", "-n", "0"});
    INFO(g1.err);
    CHECK(g1.code == 0);
    CHECK(cli({"generate", "--model", with_vocab, "--prompt", "z", "-n", "0"}).code == 2);
    CHECK(cli({"generate", "--model", pth, "--prompt", "z", "-n", "0"}).code == 0);
    CHECK(cli({"convert", "--model", pth, "--out", (dir.path / "x.safetensors").string(), "--vocab", vocab.string()}).code == 2);
    CHECK(cli({"convert", "--model", pth, "--out", by_ext, "--precision", "int8"}).code == 6);
}
#endif

// ---- K-quant GGUFs: a plain quantizer of our own, through the reader ----------------------------

namespace {

float f16_round(float x) { return f16::from_float(x).to_float(); }

void put_f16_at(std::vector<std::byte>& b, std::size_t at, float x) {
    const std::uint16_t bits = f16::from_float(x).bits;
    std::memcpy(&b[at], &bits, 2);
}

unsigned nearest(float x, float lo, float hi) { return static_cast<unsigned>(std::lround(std::clamp(x, lo, hi))); }

// One row of `n` weights (a multiple of 256) as Q4_K / Q5_K / Q6_K super-blocks: round-to-nearest
// with the block's range, no search (llama.cpp's quantizer searches for better scales; the layout is
// the same). Enough to measure what the reader makes of such files.
std::vector<std::byte> quantize_k(std::uint32_t type, const float* x, std::size_t n) {
    const auto layout = io::ggml_layout(type);
    std::vector<std::byte> out(n / 256 * layout.block_bytes);
    for (std::size_t blk = 0; blk < n / 256; ++blk) {
        const float* v = x + blk * 256;
        std::byte* o = out.data() + blk * layout.block_bytes;
        std::vector<std::byte> b(layout.block_bytes);
        if (type == io::ggml_type::q6_k) {
            std::array<float, 16> s{};
            float smax = 0;
            for (std::size_t i = 0; i < 16; ++i) {
                float a = 0;
                for (std::size_t l = 0; l < 16; ++l) a = std::max(a, std::abs(v[i * 16 + l]));
                s[i] = a / 31.0f;
                smax = std::max(smax, s[i]);
            }
            const float d = f16_round(smax / 127.0f);
            put_f16_at(b, 208, d);
            for (std::size_t i = 0; i < 16; ++i) {
                const int sc = d > 0 ? static_cast<int>(std::lround(std::min(127.0f, s[i] / d))) : 0;
                b[192 + i] = static_cast<std::byte>(static_cast<std::uint8_t>(static_cast<std::int8_t>(sc)));
                const float step = d * static_cast<float>(sc);
                for (std::size_t l = 0; l < 16; ++l) {
                    const std::size_t w = i * 16 + l;
                    const unsigned q = step > 0 ? nearest(v[w] / step + 32.0f, 0.0f, 63.0f) : 32u;
                    const std::size_t half = w / 128, k = w % 128 / 32, j = w % 32;
                    b[half * 64 + j + 32 * (k & 1)] |= static_cast<std::byte>((q & 15u) << (4 * (k >> 1)));
                    b[128 + half * 32 + j] |= static_cast<std::byte>((q >> 4) << (2 * k));
                }
            }
        } else {
            const bool five = type == io::ggml_type::q5_k;
            const float top = five ? 31.0f : 15.0f;
            std::array<float, 8> s{}, m{};
            float smax = 0, mmax = 0;
            for (std::size_t i = 0; i < 8; ++i) {
                float lo = 0, hi = 0;
                for (std::size_t l = 0; l < 32; ++l) {
                    lo = std::min(lo, v[i * 32 + l]);
                    hi = std::max(hi, v[i * 32 + l]);
                }
                s[i] = (hi - lo) / top;
                m[i] = -lo;
                smax = std::max(smax, s[i]);
                mmax = std::max(mmax, m[i]);
            }
            const float d = f16_round(smax / 63.0f), dmin = f16_round(mmax / 63.0f);
            put_f16_at(b, 0, d);
            put_f16_at(b, 2, dmin);
            std::array<unsigned, 8> sc{}, mq{};
            for (std::size_t i = 0; i < 8; ++i) {
                sc[i] = d > 0 ? nearest(s[i] / d + 0.5f, 0.0f, 63.0f) : 0u;  // round up: the range fits
                mq[i] = dmin > 0 ? nearest(m[i] / dmin, 0.0f, 63.0f) : 0u;
            }
            for (std::size_t i = 0; i < 4; ++i) {
                b[4 + i] |= static_cast<std::byte>((sc[i] & 63u) | (sc[i + 4] >> 4) << 6);
                b[4 + i + 4] |= static_cast<std::byte>((mq[i] & 63u) | (mq[i + 4] >> 4) << 6);
                b[4 + i + 8] |= static_cast<std::byte>((sc[i + 4] & 15u) | (mq[i + 4] & 15u) << 4);
            }
            for (std::size_t w = 0; w < 256; ++w) {
                const std::size_t i = w / 32;
                const float step = d * static_cast<float>(sc[i]);
                const unsigned q = step > 0 ? nearest((v[w] + dmin * static_cast<float>(mq[i])) / step, 0.0f, top) : 0u;
                const std::size_t g = w / 64, h = w % 64 / 32, l = w % 32;
                b[(five ? 48 : 16) + g * 32 + l] |= static_cast<std::byte>((q & 15u) << (4 * h));
                if (five) b[16 + l] |= static_cast<std::byte>((q >> 4) << (2 * g + h));
            }
        }
        std::memcpy(o, b.data(), b.size());
    }
    return out;
}

}  // namespace

TEST_CASE("K-quant GGUFs (Q4_K, Q5_K, Q6_K matrices) load and stay within a bound of the f32 logits",
          "[gguf][kquant][golden]") {
    const auto ref32 = shared_gguf("v7-c128-l2.f32.gguf");
    if (ref32.empty()) {
        WARN("shared GGUF golden v7-c128-l2.f32.gguf not found (../shared/golden/gguf): skipped");
        return;
    }
    rwkv_test::temp_dir dir;
    const auto keep = rwkv_test::read_file_bytes(ref32);
    const auto src = io::read_gguf(std::as_bytes(std::span(keep)), ref32.string());
    const auto [rnn_ref, seq_ref] = all_logits(rwkv7::model<>::load(ref32));
    // Measured 2026-12-03 with this quantizer (docs/formats.md); the bounds leave room over them.
    struct expectation {
        std::uint32_t type;
        float weight_fraction;  // max |dw| / max |w| of the matrix: half a quantization step and a little
        float logits;
    };
    for (const auto [type, weight_fraction, logit_bound] :
         {expectation{io::ggml_type::q4_k, 1.0f / 12, 1.1f}, expectation{io::ggml_type::q5_k, 1.0f / 25, 0.65f},
          expectation{io::ggml_type::q6_k, 1.0f / 50, 0.3f}}) {
        INFO(io::ggml_type_name(type));
        std::vector<io::gguf_tensor_to_write> tensors;
        std::size_t quantized = 0;
        for (const auto& t : src.tensors) {
            io::gguf_tensor_to_write w{t.name, t.type, t.ne, {t.bytes.begin(), t.bytes.end()}};
            // Every matrix whose rows hold whole super-blocks (at C = 128: channel_mix_value [F = 512]).
            if (t.type == io::ggml_type::f32 && t.ne.size() == 2 && t.ne[0] % 256 == 0 && t.ne[1] > 1) {
                w.type = type;
                w.bytes = quantize_k(type, reinterpret_cast<const float*>(t.bytes.data()), t.bytes.size() / 4);
                ++quantized;
            }
            tensors.push_back(std::move(w));
        }
        REQUIRE(quantized == 2);
        const auto path = dir.path / "k.gguf";
        io::write_gguf(path, {{"general.architecture", std::string("rwkv7")}, {"rwkv7.wkv.head_size", std::uint32_t{64}}},
                       tensors);
        const auto f = io::tensor_file::open(path);
        const auto ref = io::tensor_file::open(ref32);
        for (const char* name : {"blocks.0.ffn.value.weight", "blocks.1.ffn.value.weight"}) {
            const auto& q = f.require(name);
            const auto& r = ref.require(name);
            REQUIRE(q.type == dtype::f32);  // dequantized at load
            REQUIRE(q.shape == r.shape);
            std::vector<float> a(static_cast<std::size_t>(q.numel())), b(a.size());
            std::memcpy(a.data(), q.bytes.data(), a.size() * 4);
            std::memcpy(b.data(), r.bytes.data(), b.size() * 4);
            float top = 0;
            for (float v : b) top = std::max(top, std::abs(v));
            const float dw = max_abs_diff(a, b);
            WARN(io::ggml_type_name(type) << " " << name << ": max |dw| " << dw << " = " << dw / top << " of max |w|");
            CHECK(dw <= weight_fraction * top);
        }
        const auto [rnn, seq] = all_logits(rwkv7::model<>::load(path));
        const float d = max_abs_diff(rnn, rnn_ref), ds = max_abs_diff(seq, seq_ref);
        WARN(io::ggml_type_name(type) << " ffn.value (both layers): max |dlogit| vs f32 " << d << " (sequence " << ds << ")");
        CHECK(d <= logit_bound);
        CHECK(ds <= logit_bound);
    }
}
