// Fuzz target: rwkv::text::bpe_tokenizer::encode / decode (GPT-NeoX byte-level BPE) over two fixed
// small tokenizer.json fixtures built here: the same vocabulary (the 256 byte symbols, merged
// tokens of a few ASCII and UTF-8 merges, the special tokens <|endoftext|> and <|padding|>, and
// 2- and 3-space added tokens), once with the NFC normalizer and once without.
//
// Oracles: text that is not valid UTF-8 is an rwkv::invalid_argument and nothing else; valid text
// decodes back to itself with the special tokens removed (no normalizer), or to the NFC form of
// each piece between special tokens (NFC normalizer, computed here with utf8proc directly, which
// also checks the library's "trivially NFC" shortcut); every id is in range; encode appends.
#include <utf8proc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "rwkv/text/bpe_tokenizer.hpp"
#include "rwkv/text/utf8.hpp"

namespace {

constexpr std::string_view specials[] = {"<|endoftext|>", "<|padding|>"};

// GPT-2's bytes_to_unicode, written out independently: printable Latin-1 bytes stand for
// themselves, the other 68 for U+0100 onwards in byte order.
std::string byte_symbols(std::string_view bytes) {
    static const std::vector<std::string> table = [] {
        std::vector<std::string> t(256);
        std::uint32_t next = 256;
        for (std::uint32_t b = 0; b < 256; ++b) {
            const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            rwkv::text::append_utf8(t[b], self ? b : next++);
        }
        return t;
    }();
    std::string out;
    for (char c : bytes) out += table[static_cast<unsigned char>(c)];
    return out;
}

std::string fixture_json(bool nfc) {
    using json = nlohmann::json;
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_symbols(std::string(1, static_cast<char>(b)))] = b;
    int next = 256;
    json merges = json::array();
    const std::pair<std::string_view, std::string_view> pairs[] = {
        {"t", "h"}, {"th", "e"}, {" ", "th"}, {" th", "e"}, {"a", "a"}, {"aa", "a"}, {"a", "b"}, {"ab", "c"},
        {" ", " "}, {"\n", "\n"}, {"'", "s"}, {"1", "2"}, {"\xC3", "\xA9"}, {"e", "\xCC"}, {"\xCC", "\x81"},
        {"\xE4", "\xBD"}, {"\xE4\xBD", "\xA0"}, {"\xF0", "\x9F"}, {"b", "b"}, {"bb", "bb"},
    };
    for (const auto& [l, r] : pairs) {
        const std::string merged = byte_symbols(std::string(l) + std::string(r));
        if (!vocab.contains(merged)) vocab[merged] = next++;
        merges.push_back(byte_symbols(l) + " " + byte_symbols(r));
    }
    json added = json::array();
    auto add = [&](std::string_view content, bool special) {
        added.push_back({{"id", next++}, {"content", content}, {"special", special}, {"normalized", !special},
                         {"single_word", false}, {"lstrip", false}, {"rstrip", false}});
    };
    for (auto s : specials) add(s, true);
    add("   ", false);
    add("  ", false);
    const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}};
    json root = {{"version", "1.0"},         {"truncation", nullptr},       {"padding", nullptr},
                 {"added_tokens", added},    {"pre_tokenizer", byte_level}, {"post_processor", byte_level},
                 {"decoder", byte_level},
                 {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", vocab},
                            {"merges", merges}}}};
    root["normalizer"] = nfc ? json{{"type", "NFC"}} : json(nullptr);
    return root.dump();
}

const rwkv::text::bpe_tokenizer& tokenizer(bool nfc) {
    static const auto plain = rwkv::text::bpe_tokenizer::from_string(fixture_json(false), "fuzz-bpe-plain");
    static const auto normalizing = rwkv::text::bpe_tokenizer::from_string(fixture_json(true), "fuzz-bpe-nfc");
    return nfc ? normalizing : plain;
}

std::string nfc_of(std::string_view s) {
    if (s.empty()) return {};
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                     &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
    RWKV_FUZZ_CHECK(n >= 0);  // valid UTF-8 always normalises
    return std::string(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n));
}

// The text with special tokens removed (leftmost match first), each remaining piece mapped by f.
template <class F>
std::string expected_text(std::string_view text, F f) {
    std::string out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t best = std::string_view::npos, len = 0;
        for (auto s : specials) {
            const std::size_t at = text.find(s, pos);
            if (at < best || (at == best && s.size() > len)) best = at, len = s.size();
        }
        const std::size_t end = best == std::string_view::npos ? text.size() : best;
        out += f(text.substr(pos, end - pos));
        if (best == std::string_view::npos) break;
        pos = best + len;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = rwkv_fuzz::as_text(data, size);
    const bool valid = rwkv::text::is_valid_utf8(text);
    for (bool nfc : {false, true}) {
        const auto& tok = tokenizer(nfc);
        std::vector<std::int32_t> ids = {1, 2};
        if (!valid) {
            bool rejected = false;
            try {
                tok.encode(text, ids);
            } catch (const rwkv::invalid_argument&) {
                rejected = true;
            }
            RWKV_FUZZ_CHECK(rejected);
            RWKV_FUZZ_CHECK(ids.size() == 2);  // unchanged
            continue;
        }
        tok.encode(text, ids);  // valid UTF-8: must not throw
        RWKV_FUZZ_CHECK(ids.size() >= 2 && ids[0] == 1 && ids[1] == 2);
        ids.erase(ids.begin(), ids.begin() + 2);
        for (std::int32_t id : ids) RWKV_FUZZ_CHECK(tok.has_token(id));
        const std::string decoded = tok.decode(ids);
        const std::string expected =
            nfc ? expected_text(text, nfc_of) : expected_text(text, [](std::string_view s) { return std::string(s); });
        RWKV_FUZZ_CHECK(decoded == expected);
    }
    return 0;
}
