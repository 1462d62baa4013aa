// Fuzz target: rwkv::io::read_safetensors — the 8-byte header length, the JSON header (depth and
// duplicate-key guards), dtypes, shapes, data_offsets and overlap checks.
//
// Oracles: tensors come back sorted by data offset, each inside the data buffer with exactly
// numel·dtype_size bytes, non-empty ones never overlapping. A header that parses is then written back
// with write_safetensors (to a private file under /dev/shm or $TMPDIR) and read again: the second
// read must give the same names, dtypes, shapes, bytes and metadata.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/safetensors.hpp"

namespace {

std::filesystem::path scratch_file() {
    static const std::filesystem::path p = [] {
        std::filesystem::path dir = "/dev/shm";
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec)) dir = std::filesystem::temp_directory_path();
        return dir / ("rwkv-fuzz-safetensors-" + std::to_string(::getpid()) + ".safetensors");
    }();
    return p;
}

std::vector<char> slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = rwkv_fuzz::as_bytes(data, size);
    rwkv::io::safetensors_contents contents;
    const bool ok = rwkv_fuzz::accepted("safetensors", [&] { contents = rwkv::io::read_safetensors(input, "fuzz-input"); });
    if (!ok) return 0;

    const std::byte* prev_end = nullptr;
    for (const auto& t : contents.tensors) {
        const auto numel = rwkv::io::detail::checked_numel(t.shape);
        RWKV_FUZZ_CHECK(numel.has_value());
        RWKV_FUZZ_CHECK(t.bytes.size() == static_cast<std::size_t>(*numel) * rwkv::dtype_size(t.type));
        RWKV_FUZZ_CHECK(rwkv_fuzz::inside(t.bytes, input));
        if (!t.bytes.empty()) {
            RWKV_FUZZ_CHECK(prev_end == nullptr || t.bytes.data() >= prev_end);
            prev_end = t.bytes.data() + t.bytes.size();
        }
    }

    // Round trip through the writer. Only for small files: it writes to disk.
    if (size > (1u << 16)) return 0;
    std::vector<rwkv::io::tensor_to_write> out;
    for (const auto& t : contents.tensors) out.push_back({t.name, t.type, t.shape, t.bytes});
    const std::map<std::string, std::string> metadata(contents.metadata.begin(), contents.metadata.end());
    const auto path = scratch_file();
    const bool written = rwkv_fuzz::accepted("safetensors write", [&] { rwkv::io::write_safetensors(path, out, metadata); });
    if (!written) {
        std::error_code ec;
        RWKV_FUZZ_CHECK(!std::filesystem::exists(path, ec));  // a failed write leaves nothing behind
        return 0;
    }
    const auto bytes = slurp(path);
    std::filesystem::remove(path);
    const auto again = rwkv::io::read_safetensors(std::as_bytes(std::span(bytes)), path.string());
    RWKV_FUZZ_CHECK(again.metadata == contents.metadata);
    RWKV_FUZZ_CHECK(again.tensors.size() == contents.tensors.size());
    std::map<std::string, const rwkv::io::tensor_entry*> by_name;
    for (const auto& t : contents.tensors) by_name[t.name] = &t;
    for (const auto& t : again.tensors) {
        const auto it = by_name.find(t.name);
        RWKV_FUZZ_CHECK(it != by_name.end());
        const auto& o = *it->second;
        RWKV_FUZZ_CHECK(o.type == t.type && o.shape == t.shape && o.bytes.size() == t.bytes.size());
        RWKV_FUZZ_CHECK(t.bytes.empty() || std::memcmp(o.bytes.data(), t.bytes.data(), t.bytes.size()) == 0);
    }
    return 0;
}
