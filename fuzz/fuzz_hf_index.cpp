// Fuzz target: rwkv::io::parse_hf_index — the shard index of a Hugging Face checkpoint
// (model.safetensors.index.json; io/hf_index.hpp), the JSON the loader reads before opening shards.
//
// Oracles: every shard name is a plain file name (no folder part, so an index cannot reach files
// outside its folder); each shard is listed once; every weight_map entry points at a listed shard;
// the map is never empty.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "rwkv/io/hf_index.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    rwkv_fuzz::accepted("hf_index", [&] {
        const auto index = rwkv::io::parse_hf_index(text, "fuzz-input");
        RWKV_FUZZ_CHECK(!index.weight_map.empty());
        for (std::size_t i = 0; i < index.shards.size(); ++i) {
            RWKV_FUZZ_CHECK(rwkv::io::is_plain_shard_name(index.shards[i]));
            RWKV_FUZZ_CHECK(std::count(index.shards.begin(), index.shards.end(), index.shards[i]) == 1);
        }
        for (const auto& [tensor, shard] : index.weight_map)
            RWKV_FUZZ_CHECK(std::find(index.shards.begin(), index.shards.end(), shard) != index.shards.end());
    });
    return 0;
}
