// rwkv/io/gguf_write.hpp — writes a GGUF file (version 3, little-endian), the container io/gguf.hpp
// reads (docs/formats.md, GGUF section):
//   "GGUF" u32 3, u64 tensor count, u64 metadata count, the metadata entries in the order given,
//   the tensor infos (name, n_dims, ne innermost first, ggml type, data offset), zero padding to
//   `general.alignment` (32), then each tensor's bytes at its offset, each padded to the alignment.
// The file appears atomically (written beside the target, flushed, renamed). invalid_argument for
// a tensor whose bytes do not match its type and dimensions, or a repeated name; io_error when the
// file cannot be written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/io/atomic_write.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/ggml_types.hpp"

namespace rwkv::io {

// A metadata value: u32 (type 4), i32 (5), f32 (6), string (8), array of strings or of i32 (9).
using gguf_metadata_value = std::variant<std::uint32_t, std::int32_t, float, std::string, std::vector<std::string>,
                                std::vector<std::int32_t>>;

struct gguf_tensor_to_write {
    std::string name;
    std::uint32_t type = ggml_type::f32;  // a type ggml_layout knows
    std::vector<std::int64_t> ne;         // innermost first
    std::vector<std::byte> bytes;
};

inline constexpr std::uint64_t gguf_write_alignment = 32;

namespace detail {

class gguf_bytes {
public:
    std::vector<std::byte> out;
    template <class T>
    void put(T v) {
        const auto at = out.size();
        out.resize(at + sizeof(T));
        std::memcpy(out.data() + at, &v, sizeof(T));  // little-endian hosts only, like the readers
    }
    void str(const std::string& s) {
        put<std::uint64_t>(s.size());
        const auto at = out.size();
        out.resize(at + s.size());
        if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
    }
    void value(const gguf_metadata_value& v) {
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::uint32_t>) {
                    put<std::uint32_t>(4);
                    put(x);
                } else if constexpr (std::is_same_v<T, std::int32_t>) {
                    put<std::uint32_t>(5);
                    put(x);
                } else if constexpr (std::is_same_v<T, float>) {
                    put<std::uint32_t>(6);
                    put(x);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    put<std::uint32_t>(8);
                    str(x);
                } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                    put<std::uint32_t>(9);
                    put<std::uint32_t>(8);
                    put<std::uint64_t>(x.size());
                    for (const auto& s : x) str(s);
                } else {
                    put<std::uint32_t>(9);
                    put<std::uint32_t>(5);
                    put<std::uint64_t>(x.size());
                    for (auto i : x) put(i);
                }
            },
            v);
    }
    void pad_to(std::uint64_t alignment) { out.resize((out.size() + alignment - 1) / alignment * alignment); }
};

}  // namespace detail

inline void write_gguf(const std::filesystem::path& p, const std::vector<std::pair<std::string, gguf_metadata_value>>& metadata,
                       const std::vector<gguf_tensor_to_write>& tensors) {
    const std::string shown = p.string();
    detail::gguf_bytes h;
    h.out = {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}};
    h.put<std::uint32_t>(3);
    h.put<std::uint64_t>(tensors.size());
    h.put<std::uint64_t>(metadata.size() + 1);
    h.str("general.alignment");
    h.value(static_cast<std::uint32_t>(gguf_write_alignment));
    std::set<std::string> keys{"general.alignment"};
    for (const auto& [k, v] : metadata) {
        if (!keys.insert(k).second) throw invalid_argument(shown + ": metadata key '" + k + "' is given twice");
        h.str(k);
        h.value(v);
    }
    std::set<std::string> names;
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
        if (!names.insert(t.name).second) throw invalid_argument(shown + ": tensor '" + t.name + "' is given twice");
        const auto layout = ggml_layout(t.type);
        std::uint64_t numel = 1;
        for (auto d : t.ne) numel *= static_cast<std::uint64_t>(d);
        const std::int64_t inner = t.ne.empty() ? 1 : t.ne[0];
        if (layout.block_elements == 0 || t.ne.size() > 4 || inner % layout.block_elements != 0 ||
            numel / layout.block_elements * layout.block_bytes != t.bytes.size())
            throw invalid_argument(shown + ": tensor '" + t.name + "' (" + ggml_type_name(t.type) + ") has " +
                                   std::to_string(t.bytes.size()) + " bytes, which do not match its dimensions");
        h.str(t.name);
        h.put<std::uint32_t>(static_cast<std::uint32_t>(t.ne.size()));
        for (auto d : t.ne) h.put<std::uint64_t>(static_cast<std::uint64_t>(d));
        h.put<std::uint32_t>(t.type);
        h.put<std::uint64_t>(offset);
        offset += (t.bytes.size() + gguf_write_alignment - 1) / gguf_write_alignment * gguf_write_alignment;
    }
    h.pad_to(gguf_write_alignment);

    atomic_file_writer out(shown);
    out.write(h.out.data(), h.out.size());
    for (const auto& t : tensors) {
        out.write(t.bytes.data(), t.bytes.size());
        out.write_zeros((gguf_write_alignment - t.bytes.size() % gguf_write_alignment) % gguf_write_alignment);
    }
    out.commit();
}

}  // namespace rwkv::io
