// rwkv/text/gguf_vocabulary.hpp — the World vocabulary that llama.cpp stores inside an RWKV GGUF
// file (docs/formats.md, GGUF section), as a world_tokenizer.
//
// Metadata `tokenizer.ggml.model` = "rwkv" marks it; `tokenizer.ggml.tokens` (an array of strings,
// which io/gguf.hpp hands over as JSON) lists the tokens by id. Each entry is the token's bytes
// written the way Python prints a bytes object, without the b'' around it: printable ASCII as it is,
// "\\" for a backslash, "\'" for a quote, \t \n \r, and \xHH for every other byte. Id 0 is the
// end-of-text token ("<s>"); `tokenizer.ggml.token_type`, when present, marks the real tokens with 1
// (normal); padding and control entries are skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"
#include "rwkv/text/world_tokenizer.hpp"

namespace rwkv::text {

namespace detail {

inline int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The bytes a GGUF rwkv token entry stands for, or nullopt when an escape is malformed.
inline std::optional<std::string> unescape_gguf_rwkv_token(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i == s.size()) return std::nullopt;
        switch (s[i]) {
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 'x': {
                if (i + 2 >= s.size()) return std::nullopt;
                const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
                if (hi < 0 || lo < 0) return std::nullopt;
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                break;
            }
            default: return std::nullopt;
        }
    }
    return out;
}

}  // namespace detail

// The World tokenizer stored in a GGUF file's metadata (tensor_file::metadata()), or nullopt when the
// file carries no rwkv vocabulary. A malformed vocabulary is a format_error naming the file and entry.
inline std::optional<world_tokenizer> world_tokenizer_from_gguf_metadata(
    const std::map<std::string, std::string, std::less<>>& metadata, const std::string& display_name) {
    const auto model = metadata.find("tokenizer.ggml.model");
    const auto tokens = metadata.find("tokenizer.ggml.tokens");
    if (model == metadata.end() || model->second != "rwkv" || tokens == metadata.end()) return std::nullopt;
    auto fail = [&](const std::string& what) {
        return format_error(display_name + ": GGUF metadata 'tokenizer.ggml.tokens': " + what);
    };
    const auto list = nlohmann::json::parse(tokens->second, nullptr, false);
    if (!list.is_array()) throw fail("expected an array of strings");
    nlohmann::json types;
    if (const auto t = metadata.find("tokenizer.ggml.token_type"); t != metadata.end()) {
        types = nlohmann::json::parse(t->second, nullptr, false);
        if (!types.is_array() || types.size() != list.size())
            throw format_error(display_name + ": GGUF metadata 'tokenizer.ggml.token_type' must be an array of " +
                               std::to_string(list.size()) + " integers, one per token");
    }
    // The same tokens as a World vocabulary file: "<id> b'\xHH...' <length>" per line.
    static constexpr char hex[] = "0123456789abcdef";
    std::string vocabulary;
    for (std::size_t id = 1; id < list.size(); ++id) {
        if (!list[id].is_string()) throw fail("entry " + std::to_string(id) + " is not a string");
        if (!types.is_null() && !(types[id].is_number_integer() && types[id].get<std::int64_t>() == 1)) continue;
        const auto bytes = detail::unescape_gguf_rwkv_token(list[id].get_ref<const std::string&>());
        if (!bytes) throw fail("entry " + std::to_string(id) + " has a malformed escape");
        if (bytes->empty()) continue;
        vocabulary += std::to_string(id) + " b'";
        for (char c : *bytes) {
            const auto u = static_cast<unsigned char>(c);
            vocabulary += "\\x";
            vocabulary += hex[u >> 4];
            vocabulary += hex[u & 15];
        }
        vocabulary += "' " + std::to_string(bytes->size()) + "\n";
    }
    return world_tokenizer::from_string(vocabulary, display_name + " (GGUF vocabulary)");
}

}  // namespace rwkv::text
