// Fuzz target: rwkv::io::read_ggmf and the name mapping of rwkv.cpp files (io/ggmf_rwkv.hpp) —
// magic, version, the header's data type, each tensor's dimension count, name length, rwkv.cpp type
// code, dimensions against the bytes left, then the split/transpose/reshape/dequantize and the decay
// inversions of each official tensor, and the header checks against emb.weight and the block count.
//
// Oracles: every tensor lies inside the input with exactly the bytes its type and dimensions need,
// one after another to the end of the input; every mapped tensor holds numel·dtype_size bytes and is
// found by name through tensor_file; an inverted decay is finite (the reader clamps ±inf).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_support.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/ggmf.hpp"
#include "rwkv/io/ggmf_rwkv.hpp"
#include "rwkv/io/tensor_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = rwkv_fuzz::as_bytes(data, size);
    rwkv::io::ggmf_contents contents;
    if (!rwkv_fuzz::accepted("ggmf", [&] { contents = rwkv::io::read_ggmf(input, "fuzz-input"); })) return 0;

    RWKV_FUZZ_CHECK(contents.version == 100 || contents.version == 101);
    const std::byte* expected_next = nullptr;
    for (const auto& t : contents.tensors) {
        const auto layout = rwkv::io::ggml_layout(t.type);
        RWKV_FUZZ_CHECK(layout.block_elements != 0 && !t.ne.empty() && t.ne.size() <= 3);
        const auto numel = rwkv::io::detail::checked_numel(t.ne);
        RWKV_FUZZ_CHECK(numel.has_value() && *numel % layout.block_elements == 0);
        RWKV_FUZZ_CHECK(t.bytes.size() == static_cast<std::size_t>(*numel / layout.block_elements) * layout.block_bytes);
        RWKV_FUZZ_CHECK(rwkv_fuzz::inside(t.bytes, input));
        // Data in file order, each tensor's header (at least 16 bytes) between two of them.
        RWKV_FUZZ_CHECK(expected_next == nullptr || t.bytes.data() >= expected_next + 16);
        expected_next = t.bytes.data() + t.bytes.size();
    }
    if (!contents.tensors.empty()) RWKV_FUZZ_CHECK(expected_next == input.data() + input.size());

    rwkv_fuzz::accepted("ggmf tensor_file", [&] {
        const auto file = rwkv::io::tensor_file::from_memory(input, "fuzz-input");
        RWKV_FUZZ_CHECK(file.format() == "ggmf");
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
            if (t.name.ends_with(".att.time_decay") && t.type == rwkv::dtype::f32 && !rwkv_fuzz::inside(t.bytes, input)) {
                for (std::size_t i = 0; i < t.bytes.size() / 4; ++i) {
                    float v = 0.0f;
                    std::memcpy(&v, t.bytes.data() + 4 * i, 4);
                    RWKV_FUZZ_CHECK(std::isfinite(v));
                }
            }
            RWKV_FUZZ_CHECK(file.find(t.name) != nullptr);
        }
    });
    return 0;
}
