// rwkv/state/state_file.hpp — the library's versioned state file.
//
// Layout (all little-endian):
//   8 bytes   magic "RWKVSTAT"
//   u32       format version (1)
//   u32       header length H
//   H bytes   JSON: {"architecture", "n_layer", "n_embd", "n_head", "head_size",
//                    "entries": [{"name", "shape"}...], "dtype": "f32"}
//   u64       number of floats F (must equal the sum of the entries)
//   F × f32   the state values in the official state-list order
//   u64       cached tokens M (0 unless the header's "cache_width" W > 0: GoldFinch)
//   M × i32   their token ids, then M·W values of "cache_dtype" (f32, bf16, f16): their cache rows
//   u32       CRC-32 (IEEE) of every byte before it
// Loading checks each field against the file size before reading it, verifies the checksum, and
// rebuilds the layout from the header; a model then refuses a state whose layout is not its own.
// (The raw official-order dump for golden comparison is `values()` written as is.)
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/io/read_file.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/state.hpp"

namespace rwkv {

namespace detail {

inline std::uint32_t crc32_update(std::uint32_t crc, std::span<const std::byte> data) noexcept {
    static constexpr auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    crc = ~crc;
    for (std::byte b : data) crc = table[(crc ^ static_cast<std::uint32_t>(b)) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

inline constexpr char state_magic[8] = {'R', 'W', 'K', 'V', 'S', 'T', 'A', 'T'};
inline constexpr std::uint32_t state_format_version = 1;
inline constexpr std::uint32_t state_max_header = 16u << 20;

template <class T>
void append_pod(std::vector<std::byte>& out, const T& v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace detail

// Serialises a state to bytes (see the layout above).
inline std::vector<std::byte> serialize_state(const state& s) {
    const state_layout& L = s.layout();
    nlohmann::json header = {{"architecture", std::string(architecture_name(L.arch))},
                             {"n_layer", L.n_layer},
                             {"n_embd", L.n_embd},
                             {"n_head", L.n_head},
                             {"head_size", L.head_size},
                             {"cache_width", L.cache_width},
                             {"cache_dtype", std::string(dtype_name(L.cache_dtype))},
                             {"dtype", "f32"}};
    auto& entries = header["entries"] = nlohmann::json::array();
    for (const auto& e : L.entries) entries.push_back({{"name", e.name}, {"shape", e.shape}});
    const std::string h = header.dump();

    std::vector<std::byte> out;
    out.reserve(8 + 4 + 4 + h.size() + 8 + L.total * 4 + 4);
    const auto* magic = reinterpret_cast<const std::byte*>(detail::state_magic);
    out.insert(out.end(), magic, magic + 8);
    detail::append_pod(out, detail::state_format_version);
    detail::append_pod(out, static_cast<std::uint32_t>(h.size()));
    const auto* hb = reinterpret_cast<const std::byte*>(h.data());
    out.insert(out.end(), hb, hb + h.size());
    detail::append_pod(out, static_cast<std::uint64_t>(L.total));
    const auto values = std::as_bytes(s.values());
    out.insert(out.end(), values.begin(), values.end());
    detail::append_pod(out, static_cast<std::uint64_t>(s.cache_size()));
    const auto tokens = std::as_bytes(s.cache_tokens());
    out.insert(out.end(), tokens.begin(), tokens.end());
    const auto rows = s.cache_bytes();
    out.insert(out.end(), rows.begin(), rows.end());
    detail::append_pod(out, detail::crc32_update(0, out));
    return out;
}

// Parses bytes written by serialize_state. `name` is used in error messages.
inline state deserialize_state(std::span<const std::byte> bytes, const std::string& name) {
    auto fail = [&](const std::string& what) -> state_error { return state_error(name + ": " + what); };
    std::size_t pos = 0;
    auto need = [&](std::size_t n, const char* what) {
        if (bytes.size() - pos < n)
            throw fail(std::string("truncated state file (") + what + " needs " + std::to_string(n) +
                       " bytes at offset " + std::to_string(pos) + ", file has " + std::to_string(bytes.size()) + ")");
    };
    auto read_u32 = [&](const char* what) {
        need(4, what);
        std::uint32_t v;
        std::memcpy(&v, bytes.data() + pos, 4);
        pos += 4;
        return v;
    };
    need(8, "magic");
    if (std::memcmp(bytes.data(), detail::state_magic, 8) != 0)
        throw fail("not an rwkv state file (expected magic \"RWKVSTAT\")");
    pos = 8;
    const std::uint32_t version = read_u32("format version");
    if (version != detail::state_format_version)
        throw fail("state file format version " + std::to_string(version) + " is not supported (expected " +
                   std::to_string(detail::state_format_version) + ")");
    const std::uint32_t hlen = read_u32("header length");
    if (hlen > detail::state_max_header) throw fail("header length " + std::to_string(hlen) + " is implausible");
    need(hlen, "header");
    const std::string_view htext(reinterpret_cast<const char*>(bytes.data() + pos), hlen);
    pos += hlen;
    need(8, "value count");
    std::uint64_t count;
    std::memcpy(&count, bytes.data() + pos, 8);
    pos += 8;
    if (count > (bytes.size() - pos) / 4) throw fail("truncated state file: header promises " + std::to_string(count) + " floats");
    const std::size_t values_at = pos;
    pos += static_cast<std::size_t>(count) * 4;
    need(8, "cache token count");
    std::uint64_t cached;
    std::memcpy(&cached, bytes.data() + pos, 8);
    pos += 8;
    const std::size_t cache_at = pos;
    if (cached > (bytes.size() - pos) / 4) throw fail("truncated state file: header promises " + std::to_string(cached) + " cached tokens");
    pos += static_cast<std::size_t>(cached) * 4;
    const std::size_t crc_at_min = pos;
    if (bytes.size() - pos < 4) throw fail("truncated state file: no checksum");
    const std::size_t crc_at = bytes.size() - 4;  // the cache rows run up to the checksum
    const std::size_t cache_row_bytes = crc_at - crc_at_min;
    pos = crc_at;
    const std::uint32_t stored_crc = read_u32("checksum");
    if (pos != bytes.size()) throw fail("trailing bytes after the checksum");
    if (detail::crc32_update(0, bytes.first(crc_at)) != stored_crc) throw fail("checksum mismatch: the file is corrupted");

    auto layout = std::make_shared<state_layout>();
    try {
        const auto h = nlohmann::json::parse(htext);
        const auto arch_name = h.at("architecture").get<std::string>();
        const auto arch = architecture_from_name(arch_name);
        if (!arch) throw fail("unknown architecture '" + arch_name + "'");
        if (h.at("dtype").get<std::string>() != "f32") throw fail("state dtype must be f32");
        layout->arch = *arch;
        layout->n_layer = h.at("n_layer").get<std::size_t>();
        layout->n_embd = h.at("n_embd").get<std::size_t>();
        layout->n_head = h.at("n_head").get<std::size_t>();
        layout->head_size = h.at("head_size").get<std::size_t>();
        layout->cache_width = h.value("cache_width", std::size_t{0});
        const auto cache_dtype = h.value("cache_dtype", std::string("f32"));
        if (cache_dtype == "f32") layout->cache_dtype = dtype::f32;
        else if (cache_dtype == "bf16") layout->cache_dtype = dtype::bf16;
        else if (cache_dtype == "f16") layout->cache_dtype = dtype::f16;
        else throw fail("unknown cache dtype '" + cache_dtype + "'");
        const auto& entries = h.at("entries");
        if (!entries.is_array() || entries.size() > count + 1) throw fail("bad entry list");
        for (const auto& e : entries) {
            auto shape = e.at("shape").get<std::vector<std::size_t>>();
            std::size_t n = 1;
            for (auto d : shape) {
                if (d != 0 && n > count / d) throw fail("entry shape larger than the payload");
                n *= d;
            }
            layout->add(e.at("name").get<std::string>(), std::move(shape));
            if (layout->total > count) throw fail("entries larger than the payload");
        }
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("malformed header: ") + e.what());
    }
    if (layout->total != count)
        throw fail("entries hold " + std::to_string(layout->total) + " floats but the payload has " + std::to_string(count));
    const std::size_t width = layout->cache_width;
    if (width > (1u << 20)) throw fail("implausible cache width " + std::to_string(width));
    const std::size_t value_bytes = dtype_size(layout->cache_dtype);
    if ((width == 0 && cached != 0) || cache_row_bytes != static_cast<std::size_t>(cached) * width * value_bytes)
        throw fail("cache section holds " + std::to_string(cache_row_bytes) + " bytes, expected " +
                   std::to_string(cached) + " tokens × " + std::to_string(width) + " values of " +
                   std::to_string(value_bytes) + " bytes");
    state s(std::move(layout));
    if (count > 0)  // an empty state has no buffer: memcpy to nullptr is undefined even for 0 bytes
        std::memcpy(s.values().data(), bytes.data() + values_at, static_cast<std::size_t>(count) * 4);
    if (cached > 0) {
        std::vector<std::int32_t> tokens(static_cast<std::size_t>(cached));
        std::memcpy(tokens.data(), bytes.data() + cache_at, tokens.size() * 4);
        std::vector<std::byte> rows(cache_row_bytes);
        std::memcpy(rows.data(), bytes.data() + crc_at_min, rows.size());
        s.set_cache(std::move(rows), std::move(tokens));
    }
    return s;
}

// Writes atomically: a temporary file in the same folder, then rename.
inline void save_state(const state& s, const std::filesystem::path& path) {
    const auto bytes = serialize_state(s);
    auto tmp = path;
    tmp += ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw io_error(path.string() + ": cannot write state file");
        f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        if (!f) {
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw io_error(path.string() + ": write failed");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw io_error(path.string() + ": cannot move the state file into place");
    }
}

inline state load_state(const std::filesystem::path& path) {
    const std::string data = io::read_file(path, "state file");
    return deserialize_state(std::as_bytes(std::span(data)), path.string());
}

// Loads a state and checks that it was made by a model of `expected`'s shape (the same architecture,
// layers, widths and cache geometry): a file saved by another model is a state_error naming the file
// and both shapes, never a state that a later forward would misread.
inline state load_state(const std::filesystem::path& path, const state_layout& expected) {
    state loaded = load_state(path);
    loaded.require_layout(expected, path.string());
    return loaded;
}

}  // namespace rwkv
