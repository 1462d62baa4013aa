// rwkv/text/tokenizer.hpp — any_tokenizer: the World tokenizer (docs/spec/rwkv.md §7.1), the GPT-NeoX
// 20B BPE (§7.2, RWKV-4 Pile models) or the byte-level tokenizer of the demo models, behind one
// value type.
//
// It forwards encode/decode/token_bytes/vocab_size to the tokenizer it holds; name() says which
// ("world", "bpe" or "bytes"). World's end-of-text id is 0, the BPE's is <|endoftext|>'s; for the
// byte tokenizer id 0 is the NUL byte, so end_of_text_id() is empty there. open_tokenizer() picks
// the kind from the file: a Hugging Face tokenizer.json is BPE, anything else a World vocabulary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "rwkv/text/bpe_tokenizer.hpp"
#include "rwkv/text/byte_tokenizer.hpp"
#include "rwkv/text/world_tokenizer.hpp"

namespace rwkv::text {

class any_tokenizer {
public:
    any_tokenizer(world_tokenizer t) : impl_(std::move(t)) {}  // NOLINT: implicit on purpose
    any_tokenizer(byte_tokenizer t) : impl_(t) {}              // NOLINT: implicit on purpose
    any_tokenizer(bpe_tokenizer t) : impl_(std::move(t)) {}    // NOLINT: implicit on purpose

    // "world", "bpe" or "bytes".
    std::string_view name() const noexcept {
        if (std::holds_alternative<world_tokenizer>(impl_)) return "world";
        if (std::holds_alternative<bpe_tokenizer>(impl_)) return "bpe";
        return "bytes";
    }

    std::vector<std::int32_t> encode(std::string_view text) const {
        return std::visit([&](const auto& t) { return t.encode(text); }, impl_);
    }

    void encode(std::string_view text, std::vector<std::int32_t>& out) const {
        std::visit([&](const auto& t) { t.encode(text, out); }, impl_);
    }

    std::string decode(std::span<const std::int32_t> ids) const {
        return std::visit([&](const auto& t) { return t.decode(ids); }, impl_);
    }

    void decode(std::span<const std::int32_t> ids, std::string& out) const {
        std::visit([&](const auto& t) { t.decode(ids, out); }, impl_);
    }

    std::string_view token_bytes(std::int32_t id) const {
        return std::visit([&](const auto& t) { return t.token_bytes(id); }, impl_);
    }

    std::int32_t vocab_size() const {
        return std::visit([](const auto& t) { return t.vocab_size(); }, impl_);
    }

    // The id that marks the end of a document, if this tokenizer has one (World: 0).
    std::optional<std::int32_t> end_of_text_id() const noexcept {
        if (std::holds_alternative<world_tokenizer>(impl_)) return world_tokenizer::end_of_text;
        if (const auto* b = std::get_if<bpe_tokenizer>(&impl_)) return b->end_of_text_id();
        return std::nullopt;
    }

    // The held tokenizer, or nullptr if it is the other kind.
    const world_tokenizer* as_world() const noexcept { return std::get_if<world_tokenizer>(&impl_); }
    const byte_tokenizer* as_bytes() const noexcept { return std::get_if<byte_tokenizer>(&impl_); }
    const bpe_tokenizer* as_bpe() const noexcept { return std::get_if<bpe_tokenizer>(&impl_); }

private:
    std::variant<world_tokenizer, byte_tokenizer, bpe_tokenizer> impl_;
};

// Opens a tokenizer file: "bytes" is the byte tokenizer; a file whose first non-blank byte is '{'
// is a Hugging Face tokenizer.json (BPE); anything else is a World vocabulary.
inline any_tokenizer open_tokenizer(const std::filesystem::path& path) {
    if (path == "bytes") return byte_tokenizer{};
    std::ifstream f(path, std::ios::binary);
    if (!f) throw io_error(path.string() + ": cannot open tokenizer file");
    char c = 0;
    while (f.get(c) && (c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
    }
    if (f && c == '{') return bpe_tokenizer::from_file(path);
    return world_tokenizer::from_file(path);
}

}  // namespace rwkv::text
