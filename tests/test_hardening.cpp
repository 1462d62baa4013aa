// Regression tests for inputs the fuzzers (fuzz/, docs/fuzzing.md) found mishandled. Each test keeps
// the smallest input that showed the problem; the same input is also a seed of the fuzz corpus.
// Several of these only fail loudly under the sanitizer build (scripts/test-sanitized).
#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "rwkv/core/architecture.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/state/state_file.hpp"
#include "test_support.hpp"

namespace {

// A state file whose layout has no entries (0 floats): deserialize_state used to memcpy 0 bytes
// into the state's null buffer, which is undefined behaviour (UBSan: "null pointer passed as
// argument 1"). Seed: fuzz/corpus/state_file/regress-no-values.state.
TEST_CASE("a state file with no values loads and round-trips", "[hardening][state]") {
    auto layout = std::make_shared<rwkv::state_layout>();
    layout->arch = rwkv::architecture::rwkv5;
    const rwkv::state empty(layout);
    REQUIRE(empty.values().empty());

    const std::vector<std::byte> bytes = rwkv::serialize_state(empty);
    const rwkv::state back = rwkv::deserialize_state(bytes, "empty.state");
    CHECK(back.layout() == *layout);
    CHECK(back.values().empty());
    CHECK(back.cache_size() == 0);
    CHECK(rwkv::serialize_state(back) == bytes);
}

// GoldFinch config flags of the wrong JSON type escaped read_config as nlohmann::type_error (not an
// rwkv::error, so the CLI's error contract broke), and a huge number was cast to int (undefined
// behaviour). Seeds: fuzz/corpus/goldfinch_config/regress-flag-*.json.
TEST_CASE("GoldFinch config flags of the wrong type are format errors", "[hardening][goldfinch]") {
    rwkv_test::temp_dir dir;
    const auto path = dir.path / "config.json";
    auto read = [&](const std::string& text) {
        rwkv_test::write_file_bytes(path, text.data(), text.size());
        return rwkv::goldfinch::read_config(path);
    };
    CHECK_THROWS_AS(read(R"({"model": {"use_v2": "yes"}})"), rwkv::format_error);
    CHECK_THROWS_AS(read(R"({"model": {"use_one_minus_w": [1]}})"), rwkv::format_error);
    CHECK_THROWS_AS(read(R"({"model": {"use_v2": {}}})"), rwkv::format_error);
    CHECK_THROWS_WITH(read(R"({"model": {"use_v2": "yes"}})"),
                      Catch::Matchers::Contains("model.use_v2 must be 0 or 1"));

    const auto huge = read(R"({"model": {"use_v2": 1e300, "use_one_minus_w": false}})");
    CHECK(huge.use_v2);
    CHECK_FALSE(huge.use_one_minus_w);
    const auto zeros = read(R"({"model": {"use_v2": 0, "use_one_minus_w": 0.0}})");
    CHECK_FALSE(zeros.use_v2);
    CHECK_FALSE(zeros.use_one_minus_w);
    const auto defaults = read(R"({"model": {"use_v2": null}})");
    CHECK(defaults.use_v2);
    CHECK(defaults.use_one_minus_w);
}

}  // namespace
