// rwkv-cli end to end: the eval contract against the goldens, one-line errors with the documented
// exit codes, no output file on failure, deterministic generation, tokenize/detokenize.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

#ifdef RWKV_TEST_CLI

namespace {

using cli_result = rwkv_test::command_result;

cli_result run_cli(const std::vector<std::string>& args, const rwkv_test::temp_dir& dir) {
    return rwkv_test::run_command(RWKV_TEST_CLI, args, dir);
}

using rwkv_test::max_abs_diff;

// A failure: the documented code, exactly one line on stderr, nothing on stdout.
void check_one_line_error(const cli_result& r, int code) {
    INFO("stderr: " << r.err);
    CHECK(r.code == code);
    REQUIRE(!r.err.empty());
    CHECK(r.err.back() == '\n');
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

const std::string model_pth = (rwkv_test::data_dir() / "v7-c128-l2.pth").string();
const std::string tokens_json = (rwkv_test::data_dir() / "v7-c128-l2.tokens.json").string();

}  // namespace

TEST_CASE("rwkv-cli eval matches the goldens in every mode", "[cli][golden]") {
    rwkv_test::temp_dir dir;
    const auto golden = rwkv_test::read_f32(rwkv_test::data_dir() / "v7-c128-l2.logits.f32");
    const auto golden_state = rwkv_test::read_f32(rwkv_test::data_dir() / "v7-c128-l2.state.f32");
    const std::string out = (dir.path / "logits.f32").string(), st = (dir.path / "state.f32").string();
    for (std::vector<std::string> mode : {std::vector<std::string>{"--mode", "rnn"}, {"--mode", "seq"},
                                          {"--mode", "rnn", "--prefill", "16"}, {"--prefill", "0"},
                                          {"--prefill", "48"}}) {
        std::vector<std::string> args{"eval", "--model", model_pth, "--tokens", tokens_json, "--logits-out", out,
                                      "--state-out", st};
        args.insert(args.end(), mode.begin(), mode.end());
        const auto r = run_cli(args, dir);
        INFO(r.err);
        REQUIRE(r.code == 0);
        CHECK(max_abs_diff(rwkv_test::read_f32(out), golden) <= 1e-4f);
        CHECK(max_abs_diff(rwkv_test::read_f32(st), golden_state) <= 1e-4f);
    }
    const auto bf16 = run_cli({"eval", "--model", model_pth, "--tokens", tokens_json, "--logits-out", out,
                               "--precision", "bf16", "--threads", "1"},
                              dir);
    REQUIRE(bf16.code == 0);
    CHECK(max_abs_diff(rwkv_test::read_f32(out), rwkv_test::read_f32(rwkv_test::data_dir() / "v7-c128-l2.bf16.logits.f32")) <= 1e-4f);
}

TEST_CASE("rwkv-cli rejects bad input with one line and a documented exit code", "[cli][errors]") {
    rwkv_test::temp_dir dir;
    const std::string out = (dir.path / "never.f32").string();
    auto eval = [&](std::vector<std::string> extra, std::string model = model_pth, std::string tokens = tokens_json) {
        std::vector<std::string> args{"eval", "--model", model, "--tokens", tokens, "--logits-out", out};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_cli(args, dir);
    };
    auto write = [&](const std::string& name, const std::string& content) {
        const auto p = dir.path / name;
        rwkv_test::write_file_bytes(p, content.data(), content.size());
        return p.string();
    };

    check_one_line_error(eval({"--mode", "fast"}), 2);
    check_one_line_error(eval({"--mode", "seq", "--prefill", "3"}), 2);
    check_one_line_error(eval({"--prefill", "49"}), 2);
    check_one_line_error(eval({"--prefill", "-1"}), 2);
    check_one_line_error(eval({"--threads", "0"}), 2);
    check_one_line_error(eval({"--precision", "fp8"}), 2);
    check_one_line_error(eval({"--precision", "INT8"}), 2);  // names are lower case
    check_one_line_error(eval({"--backend", "quantum"}), 2);
    check_one_line_error(eval({"--config", write("c.json", "{\"model\": {}}")}), 2);
    check_one_line_error(eval({"--bogus-flag"}), 2);
    check_one_line_error(run_cli({"eval", "--model", model_pth}, dir), 2);  // missing required options
    check_one_line_error(run_cli({}, dir), 2);
    check_one_line_error(run_cli({"frobnicate"}, dir), 2);
    check_one_line_error(eval({}, (dir.path / "missing.pth").string()), 3);
    check_one_line_error(eval({}, model_pth, (dir.path / "missing.json").string()), 3);
    check_one_line_error(eval({}, model_pth, write("t1.json", "[1, 2, 256]")), 2);   // id ≥ V
    check_one_line_error(eval({}, model_pth, write("t2.json", "[1, -2]")), 2);
    check_one_line_error(eval({}, model_pth, write("t3.json", "[]")), 2);
    check_one_line_error(eval({}, model_pth, write("t4.json", "[1, 2")), 4);
    check_one_line_error(eval({}, model_pth, write("t5.json", "{\"a\": 1}")), 4);
    check_one_line_error(eval({}, model_pth, write("t6.json", "[1.5]")), 4);
    check_one_line_error(eval({}, write("garbage.pth", "this is not a checkpoint")), 4);
    {
        auto bytes = rwkv_test::read_file_bytes(model_pth);
        bytes.resize(bytes.size() / 2);
        const auto p = dir.path / "truncated.pth";
        rwkv_test::write_file_bytes(p, bytes.data(), bytes.size());
        check_one_line_error(eval({}, p.string()), 4);
    }
    CHECK_FALSE(std::filesystem::exists(out));  // no failed run left an output file
    for (const auto& e : std::filesystem::directory_iterator(dir.path))
        CHECK(e.path().filename().string().find("tmp") == std::string::npos);
}

TEST_CASE("rwkv-cli generate is deterministic for a seed and streams valid text", "[cli][generate]") {
    rwkv_test::temp_dir dir;
    const std::string demo = std::string(RWKV_TEST_SOURCE_DIR) + "/examples/models/fortune-v7-c128-l2.safetensors";
    const std::vector<std::string> args{"generate", "--model", demo, "--prompt", "Hello", "-n", "40", "--seed", "5",
                                        "--temperature", "0.9", "--top-p", "0.95"};
    const auto a = run_cli(args, dir);
    const auto b = run_cli(args, dir);
    INFO(a.err);
    REQUIRE(a.code == 0);
    CHECK(a.out == b.out);
    CHECK(!a.out.empty());
    auto c_args = args;
    c_args[8] = "6";
    CHECK(run_cli(c_args, dir).out != a.out);
    check_one_line_error(run_cli({"generate", "--model", demo, "--prompt", ""}, dir), 2);
    check_one_line_error(run_cli({"generate", "--model", demo, "--prompt", "x", "--top-p", "0"}, dir), 2);
    check_one_line_error(run_cli({"generate", "--model", demo, "--prompt", "x", "--temperature", "-1"}, dir), 2);
}

TEST_CASE("rwkv-cli info and init", "[cli]") {
    rwkv_test::temp_dir dir;
    const auto r = run_cli({"info", "--model", model_pth, "--json"}, dir);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["architecture"] == "rwkv7");
    CHECK(j["n_embd"] == 128);
    CHECK(j["n_layer"] == 2);

    const std::string out = (dir.path / "m.safetensors").string();
    REQUIRE(run_cli({"init", "--arch", "v7", "--n-embd", "192", "--n-layer", "3", "--vocab", "300", "--g1-layout",
                     "--seed", "3", "--out", out},
                    dir)
                .code == 0);
    const auto r2 = run_cli({"info", "--model", out, "--json"}, dir);
    REQUIRE(r2.code == 0);
    const auto j2 = nlohmann::json::parse(r2.out);
    CHECK(j2["n_embd"] == 192);
    CHECK(j2["n_head"] == 3);
    CHECK(j2["n_vocab"] == 300);
    check_one_line_error(run_cli({"init", "--arch", "v7", "--n-embd", "100", "--n-layer", "1", "--vocab", "10",
                                  "--out", out},
                                 dir),
                         2);
    check_one_line_error(run_cli({"init", "--arch", "v9", "--n-embd", "128", "--n-layer", "1", "--vocab", "10",
                                  "--out", out},
                                 dir),
                         6);
}

TEST_CASE("rwkv-cli tokenize and detokenize with the World vocabulary", "[cli][tokenizer]") {
    const auto vocab = rwkv_test::world_vocab_path();
    if (vocab.empty()) {
        WARN("World vocab not found (set RWKV_VOCAB_DIR): skipping");
        return;
    }
    rwkv_test::temp_dir dir;
    const auto r = run_cli({"tokenize", "--vocab", vocab.string(), "--text", "Hello world"}, dir);
    REQUIRE(r.code == 0);
    CHECK(nlohmann::json::parse(r.out) == nlohmann::json::array({33155, 40213}));
    const auto empty = run_cli({"tokenize", "--vocab", vocab.string(), "--text", ""}, dir);
    CHECK(nlohmann::json::parse(empty.out) == nlohmann::json::array());

    using namespace std::string_literals;
    const std::string text = "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd\r\n\0x"s;
    const auto tf = dir.path / "in.txt";
    rwkv_test::write_file_bytes(tf, text.data(), text.size());
    const auto enc = run_cli({"tokenize", "--vocab", vocab.string(), "--text-file", tf.string()}, dir);
    REQUIRE(enc.code == 0);
    const auto ids_path = dir.path / "ids.json";
    rwkv_test::write_file_bytes(ids_path, enc.out.data(), enc.out.size());
    const auto dec = run_cli({"detokenize", "--vocab", vocab.string(), "--tokens", ids_path.string()}, dir);
    REQUIRE(dec.code == 0);
    CHECK(dec.out == text);
    check_one_line_error(run_cli({"tokenize", "--vocab", (dir.path / "nope.txt").string(), "--text", "x"}, dir), 3);
}

TEST_CASE("rwkv-cli tokenize and detokenize with a tokenizer.json (GPT-NeoX BPE)", "[cli][bpe]") {
    rwkv_test::temp_dir dir;
    const std::string vocab = (rwkv_test::data_dir() / "bpe" / "tiny.json").string();
    const std::string text = "abc aaa";
    const auto enc = run_cli({"tokenize", "--vocab", vocab, "--text", text}, dir);
    INFO(enc.err);
    REQUIRE(enc.code == 0);
    const auto ids = nlohmann::json::parse(enc.out);
    REQUIRE(ids.is_array());
    CHECK(!ids.empty());
    const auto ids_path = dir.path / "ids.json";
    rwkv_test::write_file_bytes(ids_path, enc.out.data(), enc.out.size());
    const auto dec = run_cli({"detokenize", "--vocab", vocab, "--tokens", ids_path.string()}, dir);
    REQUIRE(dec.code == 0);
    CHECK(dec.out == text);
    check_one_line_error(run_cli({"tokenize", "--vocab", (rwkv_test::data_dir() / "v7-c128-l2.state.json").string(),
                                  "--text", "x"},
                                 dir),
                         4);
}

#else
TEST_CASE("rwkv-cli tests", "[cli]") { WARN("rwkv-cli was not built (RWKV_BUILD_TOOLS=OFF): skipping"); }
#endif
