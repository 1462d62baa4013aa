// Fuzz target: the restricted unpickler (rwkv::io::unpickle_state_dict) on raw pickle bytes, i.e.
// the data.pkl of a torch.save archive without the zip around it.
//
// It must never run code or resolve a global outside its allow-list, and every length, memo index,
// MARK and stack operation read from the input is bounded. Oracles: each described tensor has as
// many strides as dimensions, a non-negative storage offset and element count, and a unique name.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "fuzz_support.hpp"
#include "rwkv/io/pickle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = rwkv_fuzz::as_bytes(data, size);
    const std::string name = "fuzz-input/data.pkl";
    rwkv_fuzz::accepted("pth_unpickle", [&] {
        const auto tensors = rwkv::io::unpickle_state_dict(input, name);
        std::set<std::string> names;
        for (const auto& t : tensors) {
            RWKV_FUZZ_CHECK(t.size.size() == t.stride.size());
            RWKV_FUZZ_CHECK(t.size.size() <= 64);
            RWKV_FUZZ_CHECK(t.storage_offset >= 0);
            RWKV_FUZZ_CHECK(t.storage_numel >= 0);
            RWKV_FUZZ_CHECK(names.insert(t.name).second);
        }
    });
    return 0;
}
