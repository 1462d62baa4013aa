// Fuzz target: rwkv::io::tensor_file::from_memory — format detection by content, then the .pth
// reader (zip central directory, local headers, Zip64, byteorder, restricted unpickler, storage
// bounds), the .safetensors reader (header length, JSON, dtypes, shapes, offsets, overlaps) or the
// GGUF reader and its RWKV-7 name mapping (fuzz_gguf.cpp covers it on its own); .pth and .safetensors
// inputs in a Hugging Face layout then go through io/hf_layout.hpp's renaming.
//
// Oracles: every tensor's bytes lie inside the input and hold exactly numel·dtype_size bytes; each
// tensor is found by name; select_prefix keeps exactly the tensors with the prefix.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/tensor_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = rwkv_fuzz::as_bytes(data, size);
    rwkv_fuzz::accepted("tensor_file", [&] {
        const auto file = rwkv::io::tensor_file::from_memory(input, "fuzz-input");
        const bool hf = file.format() == "hf-pth" || file.format() == "hf-safetensors";
        RWKV_FUZZ_CHECK(file.format() == "pth" || file.format() == "safetensors" || file.format() == "gguf" || hf);
        RWKV_FUZZ_CHECK(hf == (file.source_layout() != rwkv::io::hf_layout::none));
        std::size_t with_prefix = 0;
        for (const auto& t : file.tensors()) {
            const auto numel = rwkv::io::detail::checked_numel(t.shape);
            RWKV_FUZZ_CHECK(numel.has_value());
            RWKV_FUZZ_CHECK(t.numel() == *numel);
            RWKV_FUZZ_CHECK(t.bytes.size() == static_cast<std::size_t>(*numel) * rwkv::dtype_size(t.type));
            // GGUF tensors that were transposed or dequantized, and the LoRA factors of the fla layout
            // (transposed), live in memory the tensor_file owns.
            RWKV_FUZZ_CHECK(file.format() == "gguf" || hf || rwkv_fuzz::inside(t.bytes, input));
            RWKV_FUZZ_CHECK(file.find(t.name) == &t);
            // Touch the first and last byte so ASan sees any span that escaped the input.
            if (!t.bytes.empty()) {
                volatile std::byte first = t.bytes.front(), last = t.bytes.back();
                (void)first;
                (void)last;
            }
            if (t.name.starts_with("blocks.")) ++with_prefix;
        }
        const auto blocks = file.select_prefix("blocks.", {{"0.ln0.weight", "ln0.weight"}});
        RWKV_FUZZ_CHECK(blocks.tensors().size() <= with_prefix);
        for (const auto& t : blocks.tensors()) RWKV_FUZZ_CHECK(file.find("blocks." + t.name) != nullptr || t.name == "ln0.weight");
    });
    return 0;
}
