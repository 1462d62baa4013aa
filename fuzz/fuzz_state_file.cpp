// Fuzz target: rwkv::deserialize_state — magic, version, header length cap, value and cache counts
// checked against the file size, CRC-32, the JSON header (architecture, dims, entries) and the cache
// section of GoldFinch states.
//
// To get past the checksum, the target fixes up the last four bytes of the input with the CRC of
// the rest before parsing (the raw input, with its own checksum, is tried first). Oracles on a state
// that loads: values and layout are consistent; serialize_state then deserialize_state gives the
// same layout, values (bit for bit) and cache.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_support.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/state/state_file.hpp"

namespace {

void check_round_trip(const rwkv::state& s) {
    const auto& L = s.layout();
    RWKV_FUZZ_CHECK(s.values().size() == L.total);
    std::size_t sum = 0;
    for (const auto& e : L.entries) {
        RWKV_FUZZ_CHECK(e.offset == sum);
        sum += e.count;
    }
    RWKV_FUZZ_CHECK(sum == L.total);
    RWKV_FUZZ_CHECK(s.cache_bytes().size() == s.cache_size() * s.cache_row_bytes());

    const auto bytes = rwkv::serialize_state(s);
    const rwkv::state back = rwkv::deserialize_state(bytes, "fuzz-round-trip");  // must not throw
    RWKV_FUZZ_CHECK(back.layout() == L);
    RWKV_FUZZ_CHECK(back.values().size() == s.values().size());
    RWKV_FUZZ_CHECK(s.values().empty() ||
                    std::memcmp(back.values().data(), s.values().data(), s.values().size_bytes()) == 0);
    RWKV_FUZZ_CHECK(back.cache_size() == s.cache_size());
    RWKV_FUZZ_CHECK(back.cache_bytes().size() == s.cache_bytes().size());
    RWKV_FUZZ_CHECK(s.cache_bytes().empty() ||
                    std::memcmp(back.cache_bytes().data(), s.cache_bytes().data(), s.cache_bytes().size()) == 0);
    RWKV_FUZZ_CHECK(s.cache_tokens().empty() || std::memcmp(back.cache_tokens().data(), s.cache_tokens().data(),
                                                            s.cache_tokens().size_bytes()) == 0);
    back.require_layout(L, "fuzz");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = rwkv_fuzz::as_bytes(data, size);
    rwkv::state s;
    if (rwkv_fuzz::accepted("state_file", [&] { s = rwkv::deserialize_state(input, "fuzz-input"); })) {
        check_round_trip(s);
    }
    if (size < 4) return 0;
    std::vector<std::byte> fixed(input.begin(), input.end());
    const std::uint32_t crc = rwkv::detail::crc32_update(0, std::span(fixed).first(size - 4));
    std::memcpy(fixed.data() + size - 4, &crc, 4);
    if (rwkv_fuzz::accepted("state_file (crc fixed)", [&] { s = rwkv::deserialize_state(fixed, "fuzz-input"); })) {
        check_round_trip(s);
    }
    return 0;
}
