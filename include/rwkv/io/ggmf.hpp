// rwkv/io/ggmf.hpp — reader for rwkv.cpp's model files ("ggmf" magic, file versions 100 and 101).
//
// Layout (all little-endian u32 unless said; docs/formats.md, rwkv.cpp section):
//   header: magic 0x67676d66, version, n_vocab, n_embd, n_layer, data type
//   then tensors, one after another to the end of the file, unaligned:
//     n_dims (1..3), name length, data type, ne[n_dims] (innermost first, as ggml stores them),
//     the name (bytes), the data (numel / block · block bytes)
// The data types are rwkv.cpp's own codes, not ggml's: FP32 0, FP16 1, Q4_0 2, Q4_1 3, Q5_0 7,
// Q5_1 8, Q8_0 9 (4..6 are formats rwkv.cpp removed, 10..16 Q8_1 and the K-quants). Quantized
// tensors must be in version-101 files: version 100 used ggml's older block layouts.
//
// The reader checks every length and dimension against the buffer before it reads, and throws
// format_error (malformed file) or unsupported_error (a type we do not read), each message starting
// with the file's name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/ggml_types.hpp"

namespace rwkv::io {

inline constexpr std::uint32_t ggmf_magic = 0x67676d66;  // "fmgg" on disk
inline constexpr std::uint32_t ggmf_version_min = 100;
inline constexpr std::uint32_t ggmf_version_quantized = 101;  // the first with today's ggml blocks

// One tensor as the file stores it.
struct ggmf_tensor_info {
    std::string name;
    std::uint32_t type = 0;             // ggml type code (ggml_types.hpp), translated from rwkv.cpp's
    std::vector<std::int64_t> ne;       // dimensions, innermost first
    std::span<const std::byte> bytes;   // inside the file
};

struct ggmf_contents {
    std::uint32_t version = 0;
    std::uint32_t n_vocab = 0, n_embd = 0, n_layer = 0;
    std::uint32_t type = 0;  // the header's data type, as a ggml type code
    std::vector<ggmf_tensor_info> tensors;  // in the file's order
};

inline bool looks_like_ggmf(std::span<const std::byte> data) noexcept {
    return data.size() >= 4 && detail::load_le<std::uint32_t>(data, 0) == ggmf_magic;
}

// rwkv.cpp's type code → the ggml type it names, for the types we read; nullopt otherwise.
constexpr std::optional<std::uint32_t> ggmf_ggml_type(std::uint32_t code) noexcept {
    switch (code) {
        case 0: return ggml_type::f32;
        case 1: return ggml_type::f16;
        case 2: return ggml_type::q4_0;
        case 3: return ggml_type::q4_1;
        case 7: return ggml_type::q5_0;
        case 8: return ggml_type::q5_1;
        case 9: return ggml_type::q8_0;
        default: return std::nullopt;
    }
}

// rwkv.cpp's name of its type code ("Q5_1 (rwkv.cpp type 8)").
inline std::string ggmf_type_name(std::uint32_t code) {
    static constexpr const char* names[] = {"FP32", "FP16", "Q4_0", "Q4_1", "Q4_1_O", "Q4_2", "Q4_3", "Q5_0", "Q5_1",
                                            "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K",   "Q5_K", "Q6_K", "Q8_K"};
    const std::string suffix = "rwkv.cpp type " + std::to_string(code);
    if (code < std::size(names)) return std::string(names[code]) + " (" + suffix + ")";
    return suffix;
}

namespace detail {

inline constexpr std::uint32_t ggmf_max_dims = 3;  // rwkv.cpp's tensors have 1 to 3 dimensions
inline constexpr const char* ggmf_supported_types = "FP32, FP16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0";

// "[64, 256]": dimensions as the file stores them, innermost first.
inline std::string ggmf_dims_string(const std::vector<std::int64_t>& ne) {
    std::string s = "[";
    for (std::size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

class ggmf_cursor {
public:
    ggmf_cursor(std::span<const std::byte> data, const std::string& display_name) : data_(data), name_(display_name) {}

    std::size_t offset() const noexcept { return pos_; }
    std::size_t remaining() const noexcept { return data_.size() - pos_; }

    format_error fail(const std::string& what) const {
        return format_error(name_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
    }

    std::uint32_t u32(const std::string& what) {
        if (remaining() < 4)
            throw fail("file ends inside " + what + ": needs 4 bytes, " + std::to_string(remaining()) + " left");
        const auto v = load_le<std::uint32_t>(data_, pos_);
        pos_ += 4;
        return v;
    }

    std::span<const std::byte> take(std::size_t n, const std::string& what) {
        if (n > remaining())
            throw fail("file ends inside " + what + ": needs " + std::to_string(n) + " bytes, " +
                       std::to_string(remaining()) + " left");
        const auto s = data_.subspan(pos_, n);
        pos_ += n;
        return s;
    }

private:
    std::span<const std::byte> data_;
    const std::string& name_;
    std::size_t pos_ = 0;
};

// The ggml type of rwkv.cpp's code `code`, or unsupported_error naming `where`.
inline std::uint32_t ggmf_checked_type(std::uint32_t code, std::uint32_t version, const std::string& display_name,
                                       const std::string& where) {
    const auto type = ggmf_ggml_type(code);
    if (!type)
        throw unsupported_error(display_name + ": " + where + " has data type " + ggmf_type_name(code) +
                                "; supported: " + ggmf_supported_types);
    if (ggml_is_block_quantized(*type) && version < ggmf_version_quantized)
        throw unsupported_error(display_name + ": " + where + " is quantized (" + ggmf_type_name(code) +
                                ") in a version-" + std::to_string(version) +
                                " file, whose block layouts ggml has since changed; requantize it with a current "
                                "rwkv.cpp (file version 101)");
    return *type;
}

}  // namespace detail

// Parses the header and tensor directory of an rwkv.cpp file held in `data`; tensor bytes stay in
// place. Messages start with `display_name`.
inline ggmf_contents read_ggmf(std::span<const std::byte> data, const std::string& display_name) {
    detail::ggmf_cursor in(data, display_name);
    if (!looks_like_ggmf(data))
        throw in.fail("not an rwkv.cpp file: the first 4 bytes are not the magic 0x67676d66 (\"fmgg\")");
    in.u32("the magic");
    ggmf_contents out;
    out.version = in.u32("the header (version)");
    out.n_vocab = in.u32("the header (n_vocab)");
    out.n_embd = in.u32("the header (n_embd)");
    out.n_layer = in.u32("the header (n_layer)");
    const auto header_type = in.u32("the header (data type)");
    if (out.version != ggmf_version_min && out.version != ggmf_version_quantized)
        throw unsupported_error(display_name + ": rwkv.cpp file version " + std::to_string(out.version) +
                                " is not supported; expected 100 or 101");
    out.type = detail::ggmf_checked_type(header_type, out.version, display_name, "the file header");

    while (in.remaining() > 0) {
        const std::string index = "tensor " + std::to_string(out.tensors.size());
        const auto n_dims = in.u32(index + " header (n_dims)");
        const auto name_length = in.u32(index + " header (name length)");
        const auto code = in.u32(index + " header (data type)");
        if (n_dims == 0 || n_dims > detail::ggmf_max_dims)
            throw in.fail(index + ": " + std::to_string(n_dims) + " dimensions, expected 1 to 3");
        ggmf_tensor_info t;
        for (std::uint32_t d = 0; d < n_dims; ++d) t.ne.push_back(in.u32(index + " dimension " + std::to_string(d)));
        t.name = std::string(detail::as_chars(in.take(name_length, index + " name")));
        const std::string where = "tensor '" + detail::printable(t.name) + "'";
        t.type = detail::ggmf_checked_type(code, out.version, display_name, where);
        const auto layout = ggml_layout(t.type);
        if (t.ne[0] % layout.block_elements != 0)
            throw in.fail(where + ": innermost dimension " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                          ggmf_type_name(code) + " block of " + std::to_string(layout.block_elements));
        // Three u32 dimensions stay below 2^96 in theory: checked against int64 and the file.
        const auto numel = detail::checked_numel(t.ne);
        const auto bytes = numel ? detail::checked_mul(*numel / layout.block_elements, layout.block_bytes) : std::nullopt;
        if (!bytes || static_cast<std::uint64_t>(*bytes) > in.remaining())
            throw in.fail(where + " (" + ggmf_type_name(code) + ", ne " + detail::ggmf_dims_string(t.ne) + ") needs " +
                          (bytes ? std::to_string(*bytes) : std::string("more than 2^63")) + " bytes of data, " +
                          std::to_string(in.remaining()) + " left in the file");
        t.bytes = in.take(static_cast<std::size_t>(*bytes), where + " data");
        out.tensors.push_back(std::move(t));
    }
    return out;
}

}  // namespace rwkv::io
