// rwkv/io/safetensors.hpp — reader and writer for the .safetensors format.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON (an object starting with '{'),
// then the data buffer. The JSON maps each tensor name to {"dtype", "shape", "data_offsets":[begin,
// end)} with offsets relative to the data buffer; the optional "__metadata__" entry is a
// string→string map. The reader accepts F32/BF16/F16 tensors (and I8/U8, the codes of quantized
// matrices: io/quantized_tensors.hpp) and checks every field against the file;
// tensors come back sorted by data offset (ties by name), i.e. in the order their bytes are stored.
#pragma once


#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/atomic_write.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/tensor_entry.hpp"

namespace rwkv::io {

// The safetensors spelling of a dtype ("F32", "BF16", "F16").
constexpr std::string_view safetensors_dtype_name(dtype t) noexcept {
    switch (t) {
        case dtype::f32: return "F32";
        case dtype::bf16: return "BF16";
        case dtype::f16: return "F16";
        case dtype::i8: return "I8";
        case dtype::u8: return "U8";
    }
    return "?";
}

struct safetensors_contents {
    std::vector<tensor_entry> tensors;  // sorted by data offset, ties by name
    std::map<std::string, std::string, std::less<>> metadata;
};

// True when the bytes could be a safetensors file: an 8-byte length, then a JSON object.
inline bool looks_like_safetensors(std::span<const std::byte> data) noexcept {
    return data.size() >= 9 && data[8] == std::byte{'{'};
}

inline constexpr std::uint64_t safetensors_max_header = 100'000'000;  // bytes of JSON we agree to parse

// Parses the header and returns the tensors as spans into `data`. Throws format_error for a malformed
// file and unsupported_error for a tensor of another dtype; messages start with `display_name`.
inline safetensors_contents read_safetensors(std::span<const std::byte> data, const std::string& display_name) {
    auto fail = [&](const std::string& what) -> format_error { return format_error(display_name + ": " + what); };
    if (data.size() < 8) {
        throw fail("safetensors file of " + std::to_string(data.size()) +
                   " bytes is too short for the 8-byte header length");
    }
    const std::uint64_t n = detail::load_le<std::uint64_t>(data, 0);
    if (n > safetensors_max_header) {
        throw fail("safetensors header length " + std::to_string(n) + " exceeds the limit of " +
                   std::to_string(safetensors_max_header) + " bytes");
    }
    if (n > data.size() - 8) {
        throw fail("safetensors header length " + std::to_string(n) + " exceeds the " +
                   std::to_string(data.size() - 8) + " bytes after the length field (file truncated?)");
    }
    const auto header = detail::as_chars(data.subspan(8, static_cast<std::size_t>(n)));
    if (header.empty() || header.front() != '{') {
        throw fail(
            "safetensors header must be a JSON object starting with '{', found " +
            (header.empty() ? std::string("an empty header") : "'" + detail::printable(header.substr(0, 16)) + "'"));
    }
    const auto buffer = data.subspan(8 + static_cast<std::size_t>(n));

    // Nesting beyond tensor entries' "shape" arrays (depth 2) is never valid; duplicate top-level
    // names would make one tensor silently shadow another.
    std::set<std::string, std::less<>> seen;
    auto guard = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using ev = nlohmann::json::parse_event_t;
        if ((event == ev::object_start || event == ev::array_start) && depth > 8) {
            throw fail("safetensors header nests deeper than 8 levels");
        }
        if (event == ev::key && depth == 1 && parsed.is_string()) {
            if (!seen.insert(parsed.get_ref<const std::string&>()).second) {
                throw fail("safetensors header has two entries named '" +
                           detail::printable(parsed.get_ref<const std::string&>()) + "'");
            }
        }
        return true;
    };
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(header.begin(), header.end(), guard);
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("safetensors header is not valid JSON: ") + e.what());
    }
    if (!root.is_object()) throw fail("safetensors header must be a JSON object");

    struct placed {
        tensor_entry entry;
        std::uint64_t begin, end;
    };
    std::vector<placed> list;
    list.reserve(root.size());
    safetensors_contents out;
    for (const auto& [name, value] : root.items()) {
        const std::string shown = "'" + detail::printable(name) + "'";
        if (name == "__metadata__") {
            if (!value.is_object())
                throw fail("safetensors __metadata__ must be an object of strings, found " +
                           std::string(value.type_name()));
            for (const auto& [k, v] : value.items()) {
                if (!v.is_string()) {
                    throw fail("safetensors __metadata__ value of '" + detail::printable(k) +
                               "' must be a string, found " + std::string(v.type_name()));
                }
                out.metadata.emplace(k, v.get<std::string>());
            }
            continue;
        }
        if (!value.is_object())
            throw fail("tensor " + shown + ": expected an object with dtype, shape and data_offsets, found " +
                       std::string(value.type_name()));

        tensor_entry t;
        t.name = name;
        const auto dt = value.find("dtype");
        if (dt == value.end() || !dt->is_string()) throw fail("tensor " + shown + ": missing string field 'dtype'");
        const auto& dts = dt->get_ref<const std::string&>();
        if (dts == "F32") {
            t.type = dtype::f32;
        } else if (dts == "BF16") {
            t.type = dtype::bf16;
        } else if (dts == "F16") {
            t.type = dtype::f16;
        } else if (dts == "I8") {
            t.type = dtype::i8;
        } else if (dts == "U8") {
            t.type = dtype::u8;
        } else {
            throw unsupported_error(display_name + ": tensor " + shown + " has dtype " + detail::printable(dts) +
                                    "; only F32, BF16, F16 (and I8/U8 quantized codes) are supported");
        }

        const auto sh = value.find("shape");
        if (sh == value.end() || !sh->is_array()) throw fail("tensor " + shown + ": missing array field 'shape'");
        for (const auto& d : *sh) {
            if (!d.is_number_unsigned() ||
                d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                throw fail("tensor " + shown + ": shape must be an array of non-negative integers, found " + d.dump());
            }
            t.shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
        }
        const auto numel = detail::checked_numel(t.shape);
        const auto nbytes =
            numel ? detail::checked_mul(*numel, static_cast<std::int64_t>(dtype_size(t.type))) : std::nullopt;
        if (!nbytes) throw fail("tensor " + shown + ": shape " + sh->dump() + " has more elements than fit in 64 bits");

        const auto off = value.find("data_offsets");
        if (off == value.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
            !(*off)[1].is_number_unsigned()) {
            throw fail("tensor " + shown + ": data_offsets must be [begin, end] with non-negative integers, found " +
                       (off == value.end() ? std::string("nothing") : off->dump()));
        }
        const auto begin = (*off)[0].get<std::uint64_t>();
        const auto end = (*off)[1].get<std::uint64_t>();
        if (begin > end || end > buffer.size()) {
            throw fail("tensor " + shown + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") must satisfy begin <= end <= " + std::to_string(buffer.size()) +
                       " (the data buffer size; file truncated?)");
        }
        if (end - begin != static_cast<std::uint64_t>(*nbytes)) {
            throw fail("tensor " + shown + ": shape " + sh->dump() + " of " + std::string(dts) + " needs " +
                       std::to_string(*nbytes) + " bytes but data_offsets [" + std::to_string(begin) + ", " +
                       std::to_string(end) + ") hold " + std::to_string(end - begin));
        }
        t.bytes = buffer.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
        list.push_back({std::move(t), begin, end});
    }

    std::sort(list.begin(), list.end(), [](const placed& a, const placed& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.entry.name < b.entry.name;
    });
    const placed* prev = nullptr;  // the last non-empty tensor
    for (const auto& p : list) {
        if (p.begin == p.end) continue;
        if (prev != nullptr && p.begin < prev->end) {
            throw fail("tensors '" + detail::printable(prev->entry.name) + "' [" + std::to_string(prev->begin) + ", " +
                       std::to_string(prev->end) + ") and '" + detail::printable(p.entry.name) + "' [" +
                       std::to_string(p.begin) + ", " + std::to_string(p.end) + ") overlap in the data buffer");
        }
        prev = &p;
    }
    out.tensors.reserve(list.size());
    for (auto& p : list) out.tensors.push_back(std::move(p.entry));
    return out;
}

struct tensor_to_write {
    std::string name;
    rwkv::dtype type = rwkv::dtype::f32;
    std::vector<std::int64_t> shape;
    std::span<const std::byte> bytes;  // numel·dtype_size(type) bytes, little-endian, row-major
};

// Writes a .safetensors file: "__metadata__" first (omitted when empty), tensors sorted by name and
// packed back to back, the header padded with spaces so that the data starts 64-byte aligned in the
// file (so in a mapping of it: matrices can be used in place). The file appears atomically: it is written to `p`.tmp-XXXXXXXX in the same directory,
// flushed, then renamed over `p`. Throws invalid_argument for repeated or reserved names and for bytes
// that do not match a shape, io_error when the file cannot be written (the temporary is removed).
inline void write_safetensors(const std::filesystem::path& p, std::span<const tensor_to_write> tensors,
                              const std::map<std::string, std::string>& metadata) {
    const std::string shown_path = p.string();
    std::vector<const tensor_to_write*> sorted;
    sorted.reserve(tensors.size());
    for (const auto& t : tensors) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(),
              [](const tensor_to_write* a, const tensor_to_write* b) { return a->name < b->name; });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        const auto& t = *sorted[i];
        if (t.name == "__metadata__") throw invalid_argument(shown_path + ": tensor name '__metadata__' is reserved");
        if (i > 0 && sorted[i - 1]->name == t.name) {
            throw invalid_argument(shown_path + ": tensor name '" + detail::printable(t.name) + "' is given twice");
        }
        const auto numel = detail::checked_numel(t.shape);
        const auto nbytes =
            numel ? detail::checked_mul(*numel, static_cast<std::int64_t>(dtype_size(t.type))) : std::nullopt;
        if (!nbytes || static_cast<std::uint64_t>(*nbytes) != t.bytes.size()) {
            throw invalid_argument(shown_path + ": tensor '" + detail::printable(t.name) + "' has " +
                                   std::to_string(t.bytes.size()) + " bytes, but its shape and dtype " +
                                   std::string(dtype_name(t.type)) + " need " +
                                   (nbytes ? std::to_string(*nbytes) : std::string("an impossible number of")));
        }
        nlohmann::ordered_json entry = nlohmann::ordered_json::object();
        entry["dtype"] = std::string(safetensors_dtype_name(t.type));
        entry["shape"] = t.shape;
        entry["data_offsets"] = {offset, offset + t.bytes.size()};
        header[t.name] = std::move(entry);
        offset += t.bytes.size();
    }
    std::string json;
    try {
        json = header.dump();
    } catch (const nlohmann::json::exception& e) {
        throw invalid_argument(shown_path + ": tensor names and metadata must be valid UTF-8: " + e.what());
    }
    json.append((64 - (8 + json.size()) % 64) % 64, ' ');
    std::array<std::byte, 8> length{};
    for (std::size_t i = 0; i < 8; ++i) length[i] = static_cast<std::byte>((json.size() >> (8 * i)) & 0xffu);

    atomic_file_writer out(shown_path);
    out.write(length.data(), length.size());
    out.write(json.data(), json.size());
    for (const auto* t : sorted) out.write(t->bytes.data(), t->bytes.size());
    out.commit();
}

}  // namespace rwkv::io
