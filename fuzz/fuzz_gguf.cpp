// Fuzz target: rwkv::io::read_gguf and the RWKV-7 name mapping (io/gguf_rwkv.hpp) — magic, version,
// counts against the file size, metadata values of every type (nested arrays, strings, bools),
// general.alignment, tensor infos (dimensions, ggml types, block multiples, offsets, overlaps), then
// the split/transpose/reshape/dequantize of each official tensor, and the stored World vocabulary.
//
// Oracles: every GGUF tensor lies inside the input's data section with exactly the bytes its type
// and dimensions need, tensors never overlap; every mapped tensor holds numel·dtype_size bytes and
// is found by name through tensor_file; each token of a stored World vocabulary encodes and decodes
// back to its bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/gguf.hpp"
#include "rwkv/io/gguf_rwkv.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/text/gguf_vocabulary.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = rwkv_fuzz::as_bytes(data, size);
    rwkv::io::gguf_contents contents;
    if (!rwkv_fuzz::accepted("gguf", [&] { contents = rwkv::io::read_gguf(input, "fuzz-input"); })) return 0;

    RWKV_FUZZ_CHECK(contents.version == 2 || contents.version == 3);
    RWKV_FUZZ_CHECK(contents.alignment > 0 && (contents.alignment & (contents.alignment - 1)) == 0);
    const std::byte* prev_end = nullptr;
    for (const auto& t : contents.tensors) {
        const auto layout = rwkv::io::ggml_layout(t.type);
        RWKV_FUZZ_CHECK(layout.block_elements != 0 && t.ne.size() <= 4);
        const auto numel = rwkv::io::detail::checked_numel(t.ne);
        RWKV_FUZZ_CHECK(numel.has_value() && *numel % layout.block_elements == 0);
        RWKV_FUZZ_CHECK(t.bytes.size() == static_cast<std::size_t>(*numel / layout.block_elements) * layout.block_bytes);
        RWKV_FUZZ_CHECK(rwkv_fuzz::inside(t.bytes, input));
        if (!t.bytes.empty()) {
            volatile std::byte first = t.bytes.front(), last = t.bytes.back();
            (void)first;
            (void)last;
        }
    }
    // Non-overlap, in data order (the reader sorted nothing: check over a sorted copy of the spans).
    std::vector<std::span<const std::byte>> spans;
    for (const auto& t : contents.tensors)
        if (!t.bytes.empty()) spans.push_back(t.bytes);
    std::sort(spans.begin(), spans.end(), [](auto a, auto b) { return a.data() < b.data(); });
    for (const auto& s : spans) {
        RWKV_FUZZ_CHECK(prev_end == nullptr || s.data() >= prev_end);
        prev_end = s.data() + s.size();
    }

    rwkv_fuzz::accepted("gguf tensor_file", [&] {
        const auto file = rwkv::io::tensor_file::from_memory(input, "fuzz-input");
        RWKV_FUZZ_CHECK(file.format() == "gguf");
        for (const auto& t : file.tensors()) {
            const auto numel = rwkv::io::detail::checked_numel(t.shape);
            RWKV_FUZZ_CHECK(numel.has_value() && t.numel() == *numel);
            RWKV_FUZZ_CHECK(t.quant_bits == 0);
            RWKV_FUZZ_CHECK(t.bytes.size() == static_cast<std::size_t>(*numel) * rwkv::dtype_size(t.type));
            if (!rwkv_fuzz::inside(t.bytes, input) && !t.bytes.empty()) {
                volatile std::byte first = t.bytes.front(), last = t.bytes.back();  // owned: ASan checks it
                (void)first;
                (void)last;
            }
            RWKV_FUZZ_CHECK(file.find(t.name) != nullptr);
        }
        const auto world = rwkv::text::world_tokenizer_from_gguf_metadata(file.metadata(), file.display_name());
        // Each stored token's bytes encode back to those bytes (greedy longest match may split them
        // differently only into tokens that decode to the same bytes).
        if (world) {
            for (std::int32_t id = 1; id < world->vocab_size(); ++id) {
                if (!world->has_token(id)) continue;
                const std::string bytes(world->token_bytes(id));
                rwkv_fuzz::accepted("gguf vocabulary", [&] { RWKV_FUZZ_CHECK(world->decode(world->encode(bytes)) == bytes); });
            }
        }
    });
    return 0;
}
