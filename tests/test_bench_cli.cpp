// rwkv-cli bench end to end (docs/contracts.md, "`rwkv-cli init` and `rwkv-cli bench`"): --json
// prints exactly one JSON object with every contract field, positive, and the roofline fractions
// computed from them; bad arguments fail with one line and the documented exit code.
// The runs are short: --limits-seconds 0.1 and --prefill-seconds 0 keep each under ~1.5 s (the
// 512 MiB bandwidth buffer is the fixed cost).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

#ifdef RWKV_TEST_CLI

namespace {

using bench_cli_result = rwkv_test::command_result;

bench_cli_result run_bench_cli(const std::vector<std::string>& args, const rwkv_test::temp_dir& dir) {
    return rwkv_test::run_command(RWKV_TEST_CLI, args, dir);
}

const std::string bench_model = (rwkv_test::data_dir() / "v7-c128-l2.safetensors").string();

std::vector<std::string> bench_args(std::vector<std::string> extra) {
    std::vector<std::string> a{"bench", "--model", bench_model, "--limits-seconds", "0.1", "--prefill-seconds", "0"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

TEST_CASE("rwkv-cli bench --json prints one object with the contract fields", "[cli][bench]") {
    rwkv_test::temp_dir dir;
    const auto r = run_bench_cli(bench_args({"--decode", "4", "--prefill", "8", "--threads", "1", "--json"}), dir);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    // Exactly one JSON object on stdout, on one line.
    REQUIRE(!r.out.empty());
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
    REQUIRE(j.is_object());

    for (const char* k : {"decode_tok_s", "prefill_tok_s", "bandwidth_gbs", "fma_peak_gflops", "decode_roofline_fraction",
                          "prefill_roofline_fraction"}) {
        INFO(k);
        REQUIRE(j.contains(k));
        REQUIRE(j[k].is_number());
        CHECK(j[k].get<double>() > 0);
    }
    for (const char* k : {"threads", "weight_bytes_per_token", "peak_rss_bytes", "n_embd", "n_layer", "n_vocab",
                          "decode_tokens", "prefill_tokens"}) {
        INFO(k);
        REQUIRE(j.contains(k));
        REQUIRE(j[k].is_number_integer());
        CHECK(j[k].get<long long>() > 0);
    }
    for (const char* k : {"precision", "backend", "model", "arch"}) {
        INFO(k);
        REQUIRE(j.contains(k));
        REQUIRE(j[k].is_string());
    }
    CHECK(j["threads"] == 1);
    CHECK(j["decode_tokens"] == 4);
    CHECK(j["prefill_tokens"] == 8);
    CHECK(j["precision"] == "f32");
    CHECK(j["backend"].get<std::string>().rfind("cpu", 0) == 0);
    CHECK(j["arch"] == "rwkv7");
    CHECK(j["model"] == bench_model);
    CHECK(j["n_embd"] == 128);
    CHECK(j["n_layer"] == 2);
    CHECK(j["n_vocab"] == 256);

    // The fractions follow from the other fields (contract formulas).
    const double bw = j["bandwidth_gbs"].get<double>() * 1e9, bpt = j["weight_bytes_per_token"].get<double>();
    CHECK(j["decode_roofline_fraction"].get<double>() ==
          Approx(j["decode_tok_s"].get<double>() / (bw / bpt)).epsilon(1e-9));
    if (j.contains("matrix_elements") && j.contains("head_elements")) {
        const double body = j["matrix_elements"].get<double>() - j["head_elements"].get<double>();
        CHECK(j["prefill_roofline_fraction"].get<double>() ==
              Approx(j["prefill_tok_s"].get<double>() / (j["fma_peak_gflops"].get<double>() * 1e9 / (2 * body)))
                  .epsilon(1e-9));
    }
    // The tiny model's weights: every tensor but the 256 × 128 f32 embedding table.
    CHECK(j["weight_bytes_per_token"].get<double>() > 4.0 * 128 * 128);
}

TEST_CASE("rwkv-cli bench prints a table without --json", "[cli][bench]") {
    rwkv_test::temp_dir dir;
    const auto r = run_bench_cli(
        bench_args({"--decode", "2", "--prefill", "4", "--threads", "1", "--isa", "portable", "--precision", "bf16"}), dir);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    for (const char* k : {"decode:", "prefill:", "bandwidth:", "fma peak:", "cpu/portable", "bf16"}) {
        INFO(k);
        CHECK(r.out.find(k) != std::string::npos);
    }
}

TEST_CASE("rwkv-cli bench --batch steps agents together; --decode 0 and --prefill 0 skip", "[cli][bench]") {
    rwkv_test::temp_dir dir;
    const auto r = run_bench_cli(bench_args({"--decode", "3", "--prefill", "0", "--batch", "5", "--threads", "1",
                                             "--json"}),
                                 dir);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["batch"] == 5);
    CHECK(j["state_bytes_per_agent"].get<std::size_t>() > 0);
    CHECK(j["workspace_bytes"].get<std::size_t>() > 0);
    CHECK(j["decode_tok_s"].get<double>() > 0);
    CHECK(j["prefill_tok_s"].is_null());
    CHECK(j["prefill_roofline_fraction"].is_null());
    // Summed over the agents, with the roofline fraction defined as for one agent.
    const double bound = j["bandwidth_gbs"].get<double>() * 1e9 / j["weight_bytes_per_token"].get<double>();
    CHECK(j["decode_roofline_fraction"].get<double>() == Approx(j["decode_tok_s"].get<double>() / bound).epsilon(1e-9));

    const auto no_decode = run_bench_cli(bench_args({"--decode", "0", "--prefill", "4", "--threads", "1", "--json"}), dir);
    REQUIRE(no_decode.code == 0);
    const auto k = nlohmann::json::parse(no_decode.out);
    CHECK(k["decode_tok_s"].is_null());
    CHECK(k["prefill_tok_s"].get<double>() > 0);
}

TEST_CASE("rwkv-cli bench rejects bad arguments with one line", "[cli][bench][errors]") {
    rwkv_test::temp_dir dir;
    const std::vector<std::pair<std::vector<std::string>, int>> cases = {
        {{"--batch", "0"}, 2},
        {{"--decode", "-3"}, 2},
        {{"--batch", "5000"}, 2},
        {{"--prefill", "99999999999"}, 2},
        {{"--decode", "4000000000"}, 2},
        {{"--threads", "0"}, 2},
        {{"--threads", "100000"}, 2},
        {{"--isa", "neon9"}, 2},
        {{"--precision", "f8"}, 2},
        {{"--precision", "F32"}, 2},
        {{"--backend", "gpu"}, 2},
        {{"--backend", "reference", "--isa", "avx2"}, 2},
        {{"--limits-seconds", "0"}, 2},
        {{"--decode", "many"}, 2},
    };
    for (const auto& [extra, code] : cases) {
        const auto r = run_bench_cli(bench_args(extra), dir);
        INFO("args: " << extra.front() << " " << (extra.size() > 1 ? extra[1] : "") << "; stderr: " << r.err);
        CHECK(r.code == code);
        CHECK(r.out.empty());
        REQUIRE(!r.err.empty());
        CHECK(r.err.back() == '\n');
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    // A missing model file is an I/O error; no --model at all is a usage error.
    const auto missing = run_bench_cli({"bench", "--model", (dir.path / "nope.safetensors").string()}, dir);
    CHECK(missing.code == 3);
    CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);
    const auto no_model = run_bench_cli({"bench", "--decode", "4"}, dir);
    CHECK(no_model.code == 2);
    CHECK(std::count(no_model.err.begin(), no_model.err.end(), '\n') == 1);
}

#endif  // RWKV_TEST_CLI
