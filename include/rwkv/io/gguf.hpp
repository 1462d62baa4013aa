// rwkv/io/gguf.hpp — reader for GGUF files (the llama.cpp / ggml container), versions 2 and 3.
//
// Layout (all little-endian; docs/formats.md, GGUF section):
//   "GGUF" u32 version, u64 tensor count, u64 metadata count
//   metadata: key (string), u32 value type, value          — string = u64 length + bytes
//   tensor infos: name (string), u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset
//   padding to `general.alignment` (default 32), then the data section; offsets are relative to it
//   and multiples of the alignment.
// ne[0] is the innermost (fastest-varying) dimension: the reverse of PyTorch's shape order.
//
// The reader checks every length, count and offset against the buffer before it reads or allocates,
// and throws format_error (malformed file) or unsupported_error (big-endian or v1 files, tensor types
// we do not read), each message starting with the file's name.
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/ggml_types.hpp"

namespace rwkv::io {

// One tensor as the file stores it.
struct gguf_tensor_info {
    std::string name;
    std::uint32_t type = 0;             // ggml type code (ggml_types.hpp)
    std::vector<std::int64_t> ne;       // dimensions, innermost first
    std::span<const std::byte> bytes;   // inside the file's data section
};

struct gguf_contents {
    std::uint32_t version = 0;
    std::uint64_t alignment = 32;
    // Every metadata entry as text: a string as it is, a number in decimal, a bool as true/false, an
    // array as JSON (in strings that are not valid UTF-8, U+FFFD stands for the bad bytes).
    std::map<std::string, std::string, std::less<>> metadata;
    std::vector<gguf_tensor_info> tensors;  // in the file's order
};

inline bool looks_like_gguf(std::span<const std::byte> data) noexcept {
    return data.size() >= 4 && detail::as_chars(data.first(4)) == "GGUF";
}

namespace detail {

// GGUF metadata value types.
enum class gguf_value : std::uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
    u64 = 10, i64 = 11, f64 = 12
};

// Bytes of a fixed-size value type, 0 for string and array, -1 for an unknown type.
constexpr int gguf_value_size(std::uint32_t type) noexcept {
    switch (static_cast<gguf_value>(type)) {
        case gguf_value::u8:
        case gguf_value::i8:
        case gguf_value::boolean: return 1;
        case gguf_value::u16:
        case gguf_value::i16: return 2;
        case gguf_value::u32:
        case gguf_value::i32:
        case gguf_value::f32: return 4;
        case gguf_value::u64:
        case gguf_value::i64:
        case gguf_value::f64: return 8;
        case gguf_value::string:
        case gguf_value::array: return 0;
    }
    return -1;
}

// Arrays may nest; deeper than this is refused rather than recursed into.
inline constexpr int gguf_max_array_depth = 8;
// ggml tensors have at most four dimensions.
inline constexpr std::uint32_t gguf_max_dims = 4;

class gguf_cursor {
public:
    gguf_cursor(std::span<const std::byte> data, const std::string& display_name) : data_(data), name_(display_name) {}

    std::size_t offset() const noexcept { return pos_; }
    std::size_t remaining() const noexcept { return data_.size() - pos_; }

    format_error fail(const std::string& what) const {
        return format_error(name_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
    }

    template <class T>
    T read(const char* what) {
        if (remaining() < sizeof(T)) {
            throw fail("file ends inside " + std::string(what) + ": needs " + std::to_string(sizeof(T)) +
                       " bytes, " + std::to_string(remaining()) + " left");
        }
        const T v = load_le<T>(data_, pos_);
        pos_ += sizeof(T);
        return v;
    }

    std::string_view read_string(const std::string& what) {
        const auto length = read<std::uint64_t>(what.c_str());
        if (length > remaining()) {
            throw fail(what + ": string length " + std::to_string(length) + " exceeds the " +
                       std::to_string(remaining()) + " bytes left in the file");
        }
        const auto s = as_chars(data_.subspan(pos_, static_cast<std::size_t>(length)));
        pos_ += static_cast<std::size_t>(length);
        return s;
    }

    // A value of `type` as JSON (for arrays) or text (top level).
    nlohmann::json read_value(std::uint32_t type, const std::string& where, int depth) {
        switch (static_cast<gguf_value>(type)) {
            case gguf_value::u8: return read<std::uint8_t>(where.c_str());
            case gguf_value::i8: return static_cast<std::int8_t>(read<std::uint8_t>(where.c_str()));
            case gguf_value::u16: return read<std::uint16_t>(where.c_str());
            case gguf_value::i16: return static_cast<std::int16_t>(read<std::uint16_t>(where.c_str()));
            case gguf_value::u32: return read<std::uint32_t>(where.c_str());
            case gguf_value::i32: return static_cast<std::int32_t>(read<std::uint32_t>(where.c_str()));
            case gguf_value::u64: return read<std::uint64_t>(where.c_str());
            case gguf_value::i64: return static_cast<std::int64_t>(read<std::uint64_t>(where.c_str()));
            case gguf_value::f32: return std::bit_cast<float>(read<std::uint32_t>(where.c_str()));
            case gguf_value::f64: return std::bit_cast<double>(read<std::uint64_t>(where.c_str()));
            case gguf_value::boolean: {
                const auto b = read<std::uint8_t>(where.c_str());
                if (b > 1) throw fail(where + ": a bool must be 0 or 1, found " + std::to_string(b));
                return b == 1;
            }
            case gguf_value::string: return std::string(read_string(where));
            case gguf_value::array: return read_array(where, depth + 1);
        }
        throw fail(where + ": unknown value type " + std::to_string(type) + " (expected 0..12)");
    }

private:
    nlohmann::json read_array(const std::string& where, int depth) {
        if (depth > gguf_max_array_depth)
            throw fail(where + ": arrays nested deeper than " + std::to_string(gguf_max_array_depth));
        const auto item_type = read<std::uint32_t>((where + " array type").c_str());
        const auto count = read<std::uint64_t>((where + " array length").c_str());
        const int size = gguf_value_size(item_type);
        if (size < 0) throw fail(where + ": unknown array item type " + std::to_string(item_type) + " (expected 0..12)");
        // The smallest an item can be: a string's or an array's length field is 8 bytes, 12 with the type.
        const std::uint64_t min_item = size > 0 ? static_cast<std::uint64_t>(size)
                                       : item_type == static_cast<std::uint32_t>(gguf_value::string) ? 8u : 12u;
        if (count > remaining() / min_item) {
            throw fail(where + ": array of " + std::to_string(count) + " items needs at least " +
                       std::to_string(min_item) + " bytes each, " + std::to_string(remaining()) + " left");
        }
        nlohmann::json out = nlohmann::json::array();
        out.get_ref<nlohmann::json::array_t&>().reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i) out.push_back(read_value(item_type, where, depth));
        return out;
    }

    std::span<const std::byte> data_;
    const std::string& name_;
    std::size_t pos_ = 0;
};

// A top-level metadata value as text (see gguf_contents::metadata). Strings come back as they are
// when valid UTF-8 (metadata is shown as JSON by `rwkv-cli info`), with U+FFFD for bad bytes otherwise.
inline std::string gguf_value_text(const nlohmann::json& v) {
    if (v.is_string()) {
        const std::string shown = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return nlohmann::json::parse(shown).get<std::string>();
    }
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_float()) {
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof buf, v.get<double>());
        return std::string(buf, r.ptr);
    }
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace detail

// Parses the header, metadata and tensor directory of a GGUF file held in `data`; tensor bytes stay
// in place. Messages start with `display_name`.
inline gguf_contents read_gguf(std::span<const std::byte> data, const std::string& display_name) {
    detail::gguf_cursor in(data, display_name);
    if (!looks_like_gguf(data)) throw in.fail("not a GGUF file: the first 4 bytes are not \"GGUF\"");
    in.read<std::uint32_t>("the magic");
    gguf_contents out;
    out.version = in.read<std::uint32_t>("the version");
    const std::uint32_t swapped = __builtin_bswap32(out.version);
    if (swapped == 2 || swapped == 3)
        throw unsupported_error(display_name + ": big-endian GGUF file (version " + std::to_string(swapped) +
                                "); only little-endian files are supported");
    if (out.version == 1)
        throw unsupported_error(display_name + ": GGUF version 1 (32-bit counts) is not supported; expected 2 or 3");
    if (out.version != 2 && out.version != 3)
        throw in.fail("unknown GGUF version " + std::to_string(out.version) + ", expected 2 or 3");
    const auto n_tensors = in.read<std::uint64_t>("the tensor count");
    const auto n_metadata = in.read<std::uint64_t>("the metadata count");
    // Each metadata entry takes at least 13 bytes (key length, type, one byte), each tensor info 24.
    if (n_metadata > in.remaining() / 13)
        throw in.fail("metadata count " + std::to_string(n_metadata) + " cannot fit in the " +
                      std::to_string(in.remaining()) + " bytes left");
    if (n_tensors > in.remaining() / 24)
        throw in.fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                      std::to_string(in.remaining()) + " bytes left");

    for (std::uint64_t i = 0; i < n_metadata; ++i) {
        const std::string key(in.read_string("metadata key " + std::to_string(i)));
        const std::string where = "metadata '" + detail::printable(key) + "'";
        const auto type = in.read<std::uint32_t>((where + " type").c_str());
        nlohmann::json value = in.read_value(type, where, 0);
        if (key == "general.alignment") {
            if (type != static_cast<std::uint32_t>(detail::gguf_value::u32))
                throw in.fail(where + ": expected a u32, found value type " + std::to_string(type));
            const auto a = value.get<std::uint64_t>();
            if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
                throw in.fail(where + ": " + std::to_string(a) + " is not a power of two up to 2^20");
            out.alignment = a;
        }
        if (!out.metadata.emplace(key, detail::gguf_value_text(value)).second)
            throw in.fail(where + " appears twice");
    }

    struct pending {
        std::uint64_t offset, bytes;
    };
    std::vector<pending> places;
    out.tensors.reserve(static_cast<std::size_t>(n_tensors));
    places.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
        gguf_tensor_info t;
        t.name = std::string(in.read_string("tensor name " + std::to_string(i)));
        const std::string where = "tensor '" + detail::printable(t.name) + "'";
        const auto n_dims = in.read<std::uint32_t>((where + " n_dims").c_str());
        if (n_dims > detail::gguf_max_dims)
            throw in.fail(where + ": " + std::to_string(n_dims) + " dimensions, expected at most 4");
        for (std::uint32_t d = 0; d < n_dims; ++d) {
            const auto ne = in.read<std::uint64_t>((where + " dimension").c_str());
            if (ne > (std::uint64_t{1} << 48)) throw in.fail(where + ": dimension " + std::to_string(ne) + " is too large");
            t.ne.push_back(static_cast<std::int64_t>(ne));
        }
        t.type = in.read<std::uint32_t>((where + " type").c_str());
        const auto offset = in.read<std::uint64_t>((where + " offset").c_str());
        const auto layout = ggml_layout(t.type);
        if (layout.block_elements == 0)
            throw unsupported_error(display_name + ": " + where + " has ggml type " + ggml_type_name(t.type) +
                                    "; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K");
        const auto numel = detail::checked_numel(t.ne);
        if (!numel) throw in.fail(where + ": " + std::to_string(n_dims) + " dimensions overflow 64 bits");
        const std::int64_t innermost = t.ne.empty() ? 1 : t.ne[0];  // a scalar is one row of one element
        if (innermost % layout.block_elements != 0)
            throw in.fail(where + ": innermost dimension " + std::to_string(innermost) + " is not a multiple of the " +
                          ggml_type_name(t.type) + " block of " + std::to_string(layout.block_elements));
        const auto bytes = detail::checked_mul(*numel / layout.block_elements, layout.block_bytes);
        if (!bytes) throw in.fail(where + ": size overflows 64 bits");
        if (offset % out.alignment != 0)
            throw in.fail(where + ": data offset " + std::to_string(offset) + " is not a multiple of the alignment " +
                          std::to_string(out.alignment));
        places.push_back({offset, static_cast<std::uint64_t>(*bytes)});
        out.tensors.push_back(std::move(t));
    }

    const std::uint64_t infos_end = in.offset();
    const std::uint64_t data_start = (infos_end + out.alignment - 1) / out.alignment * out.alignment;
    if (data_start > data.size() && !out.tensors.empty())
        throw format_error(display_name + ": the data section would start at byte " + std::to_string(data_start) +
                           " but the file has " + std::to_string(data.size()) + " bytes");
    const std::uint64_t data_size = data_start <= data.size() ? data.size() - data_start : 0;
    for (std::size_t i = 0; i < out.tensors.size(); ++i) {
        const auto& p = places[i];
        if (!detail::range_fits(p.offset, p.bytes, data_size)) {
            throw format_error(display_name + ": tensor '" + detail::printable(out.tensors[i].name) + "' (" +
                               ggml_type_name(out.tensors[i].type) + ", " + std::to_string(p.bytes) +
                               " bytes at data offset " + std::to_string(p.offset) + ") runs past the end of the " +
                               std::to_string(data_size) + "-byte data section");
        }
        out.tensors[i].bytes =
            data.subspan(static_cast<std::size_t>(data_start + p.offset), static_cast<std::size_t>(p.bytes));
    }
    // Tensors may not overlap (ggml lays them out one after another).
    std::vector<std::size_t> order(out.tensors.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return places[a].offset < places[b].offset; });
    for (std::size_t k = 1; k < order.size(); ++k) {
        const auto& prev = places[order[k - 1]];
        if (prev.bytes > 0 && places[order[k]].offset < prev.offset + prev.bytes) {
            throw format_error(display_name + ": tensors '" + detail::printable(out.tensors[order[k - 1]].name) +
                               "' and '" + detail::printable(out.tensors[order[k]].name) + "' overlap in the data section");
        }
    }
    return out;
}

}  // namespace rwkv::io
