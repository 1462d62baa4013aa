// Regression tests for inputs the fuzzers (fuzz/, docs/fuzzing.md) found mishandled. Each test keeps
// the smallest input that showed the problem; the same input is also a seed of the fuzz corpus.
// Several of these only fail loudly under the sanitizer build (scripts/test-sanitized).
#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <vector>

#include "rwkv/core/architecture.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/state/state_file.hpp"

namespace {

// A state file whose layout has no entries (0 floats): deserialize_state used to memcpy 0 bytes
// into the state's null buffer, which is undefined behaviour (UBSan: "null pointer passed as
// argument 1"). Seed: fuzz/corpus/state_file/empty.state.
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

}  // namespace
