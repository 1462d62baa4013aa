// rwkv/text/byte_tokenizer.hpp — the byte-level tokenizer of the project's small demo models.
//
// Token id = byte value (0..255), vocabulary size 256. It has the same encode/decode/token_bytes/
// vocab_size shape as the World tokenizer (docs/spec/rwkv.md §7.1) so the two are interchangeable through
// any_tokenizer (tokenizer.hpp), but it has no end-of-text token: id 0 is the NUL byte and decodes
// to "\0", like every other id decodes to its byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/core/error.hpp"

namespace rwkv::text {

namespace detail {

constexpr std::array<char, 256> make_all_bytes() noexcept {
    std::array<char, 256> a{};
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<char>(static_cast<unsigned char>(i));
    return a;
}

// Every byte value once, in order: token_bytes(id) is a one-byte view into this table.
inline constexpr std::array<char, 256> all_bytes = make_all_bytes();

}  // namespace detail

class byte_tokenizer {
public:
    static constexpr std::int32_t size = 256;

    // One id per byte; any byte string (including invalid UTF-8 and NUL bytes) is accepted.
    std::vector<std::int32_t> encode(std::string_view bytes) const {
        std::vector<std::int32_t> out;
        encode(bytes, out);
        return out;
    }

    // Appends the ids of `bytes` to out.
    void encode(std::string_view bytes, std::vector<std::int32_t>& out) const {
        out.reserve(out.size() + bytes.size());
        for (char c : bytes) out.push_back(static_cast<std::int32_t>(static_cast<unsigned char>(c)));
    }

    // The bytes of the ids, concatenated. An id outside 0..255 → rwkv::invalid_argument.
    std::string decode(std::span<const std::int32_t> ids) const {
        std::string out;
        decode(ids, out);
        return out;
    }

    // Appends the bytes of the ids to out (out is unchanged if an id is invalid).
    void decode(std::span<const std::int32_t> ids, std::string& out) const {
        for (std::int32_t id : ids) check(id);
        out.reserve(out.size() + ids.size());
        for (std::int32_t id : ids) out += detail::all_bytes[static_cast<std::size_t>(id)];
    }

    // The one byte of token `id`. An id outside 0..255 → rwkv::invalid_argument.
    std::string_view token_bytes(std::int32_t id) const {
        check(id);
        return {detail::all_bytes.data() + id, 1};
    }

    std::int32_t vocab_size() const noexcept { return size; }

private:
    static void check(std::int32_t id) {
        if (id < 0 || id >= size) {
            throw invalid_argument("byte tokenizer: token id " + std::to_string(id) +
                                   " is out of range (valid ids are 0..255)");
        }
    }
};

}  // namespace rwkv::text
