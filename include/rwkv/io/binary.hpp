// rwkv/io/binary.hpp — bounds-checked little-endian reads and overflow-checked size arithmetic shared
// by the checkpoint readers (zip, pickle, safetensors). Internal: everything is in rwkv::io::detail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace rwkv::io::detail {

// True when [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
constexpr bool range_fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) noexcept {
    return offset <= size && length <= size - offset;
}

// Little-endian unsigned integer of sizeof(T) bytes at `offset`; the caller has checked the range.
template <class T>
inline T load_le(std::span<const std::byte> data, std::size_t offset) noexcept {
    static_assert(std::is_unsigned_v<T>);
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        value = static_cast<T>(value | (static_cast<T>(std::to_integer<unsigned>(data[offset + i])) << (8 * i)));
    }
    return value;
}

// a · b and a + b for non-negative int64 values, or nullopt on overflow.
inline std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

inline std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
    return r;
}

// Product of non-negative dimensions; nullopt if a dimension is negative or the product overflows.
template <class Range>
inline std::optional<std::int64_t> checked_numel(const Range& shape) noexcept {
    std::int64_t n = 1;
    for (std::int64_t d : shape) {
        if (d < 0) return std::nullopt;
        auto next = checked_mul(n, d);
        if (!next) return std::nullopt;
        n = *next;
    }
    return n;
}

// Bytes as a string view (for names stored in containers).
inline std::string_view as_chars(std::span<const std::byte> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// A name made printable for an error message: control bytes escaped, long names cut.
inline std::string printable(std::string_view s, std::size_t max_len = 200) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < max_len; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > max_len) out += "...";
    return out;
}

// "0x1f" style hex for a byte.
inline std::string hex_byte(std::uint8_t b) {
    static constexpr char hex[] = "0123456789abcdef";
    return std::string("0x") + hex[b >> 4] + hex[b & 15];
}

}  // namespace rwkv::io::detail
