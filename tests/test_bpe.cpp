// Tests of the GPT-NeoX byte-level BPE tokenizer (include/rwkv/text/bpe_tokenizer.hpp, docs/spec/rwkv.md
// §7.2) and its Unicode helpers (include/rwkv/text/unicode.hpp).
//
// Fixtures: tests/data/bpe/tiny.json is a hand-written tokenizer.json whose expected ids are worked
// out in the comments below. A second tokenizer, whose vocab holds all 256 byte symbols, is built
// in memory by make_bytes_fixture() for round trips and for checking BPE against a naive reference.
// The real 20B_tokenizer.json is not part of the repository: set RWKV_BPE_20B to its path to check
// the §7.2 test vectors (the test warns and skips otherwise).
#include <catch2/catch.hpp>

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"
#include "rwkv/text/bpe_tokenizer.hpp"
#include "rwkv/text/unicode.hpp"
#include "rwkv/text/utf8.hpp"
#include "test_support.hpp"

namespace {

using rwkv::text::bpe_tokenizer;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using ids_t = std::vector<std::int32_t>;

std::filesystem::path tiny_path() { return rwkv_test::data_dir() / "bpe" / "tiny.json"; }

const bpe_tokenizer& tiny() {
    static const bpe_tokenizer tok = bpe_tokenizer::from_file(tiny_path());
    return tok;
}

json tiny_json() {
    std::ifstream f(tiny_path(), std::ios::binary);
    return json::parse(f);
}

// UTF-8 of a code point, written independently of the library.
std::string utf8_of(std::uint32_t cp) {
    std::string s;
    auto put = [&](std::uint32_t v) { s.push_back(static_cast<char>(static_cast<unsigned char>(v))); };
    if (cp <= 0x7F) {
        put(cp);
    } else if (cp <= 0x7FF) {
        put(0xC0 + (cp >> 6));
        put(0x80 + (cp % 64));
    } else if (cp <= 0xFFFF) {
        put(0xE0 + (cp >> 12));
        put(0x80 + ((cp / 64) % 64));
        put(0x80 + (cp % 64));
    } else {
        put(0xF0 + (cp >> 18));
        put(0x80 + ((cp / 4096) % 64));
        put(0x80 + ((cp / 64) % 64));
        put(0x80 + (cp % 64));
    }
    return s;
}

// NFC of a whole string straight from utf8proc (the library cuts the text into chunks first).
std::string reference_nfc(std::string_view s) {
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            static_cast<utf8proc_ssize_t>(s.size()), &out,
                                            static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(out, &std::free);
    REQUIRE(n >= 0);
    return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

// GPT-2's bytes_to_unicode, following the Python original: the printable bytes keep their value,
// the others get 256, 257, … in byte order. Returns the symbol (UTF-8) of each byte.
std::vector<std::string> gpt2_byte_symbols() {
    std::vector<int> keep;
    for (int b = '!'; b <= '~'; ++b) keep.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) keep.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) keep.push_back(b);
    std::vector<std::string> sym(256);
    for (int b : keep) sym[static_cast<std::size_t>(b)] = utf8_of(static_cast<std::uint32_t>(b));
    std::uint32_t next = 256;
    for (std::size_t b = 0; b < 256; ++b) {
        if (sym[b].empty()) sym[b] = utf8_of(next++);
    }
    return sym;
}

std::string to_symbols(std::string_view bytes) {
    static const std::vector<std::string> sym = gpt2_byte_symbols();
    std::string out;
    for (char c : bytes) out += sym[static_cast<unsigned char>(c)];
    return out;
}

// Merges of the in-memory fixture, as pairs of raw byte strings, highest priority first.
const std::vector<std::pair<std::string, std::string>>& bytes_fixture_merges() {
    static const std::vector<std::pair<std::string, std::string>> merges = {
        {"a", "b"}, {"b", "c"}, {"c", "a"}, {"a", "a"}, {"b", "b"}, {"c", "c"}, {"ab", "c"},
        {"bc", "a"}, {"a", "ab"}, {"aa", "b"}, {"ab", "ab"}, {"cc", "c"}, {"ca", "b"},
        {"abc", "abc"}, {"aab", "c"}, {"abab", "ab"}, {"bb", "bb"}, {"c", "aa"},
        {" ", "a"}, {" ", "t"}, {"h", "e"}, {" t", "he"}, {" ", "\n"}, {"\n", "\n"},
        {"'", "s"}, {"1", "2"}, {"\xE4", "\xBD"}, {"\xE4\xBD", "\xA0"}, {"\xF0", "\x9F"},
        {"e", "\xCC"}, {"\xC3", "\xA9"},
    };
    return merges;
}

// A tokenizer.json whose vocab has the 256 byte symbols (id = byte value), the merged tokens of
// bytes_fixture_merges() (ids 256…), the special tokens and the 2- to 4-space added tokens.
std::string make_bytes_fixture(bool array_merges) {
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[to_symbols(std::string(1, static_cast<char>(b)))] = b;
    int next = 256;
    json merges = json::array();
    for (const auto& [l, r] : bytes_fixture_merges()) {
        const std::string merged = to_symbols(l + r);
        if (!vocab.contains(merged)) vocab[merged] = next++;
        if (array_merges) {
            merges.push_back(json::array({to_symbols(l), to_symbols(r)}));
        } else {
            merges.push_back(to_symbols(l) + " " + to_symbols(r));
        }
    }
    json added = json::array();
    auto add = [&](const std::string& content, int id, bool special) {
        added.push_back({{"id", id}, {"content", content}, {"special", special}, {"normalized", !special},
                         {"single_word", false}, {"lstrip", false}, {"rstrip", false}});
    };
    add("<|endoftext|>", next, true);
    add("<|padding|>", next + 1, true);
    for (int k = 4; k >= 2; --k) add(std::string(static_cast<std::size_t>(k), ' '), next + 6 - k, false);
    const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}};
    json root = {{"version", "1.0"},
                 {"truncation", nullptr},
                 {"padding", nullptr},
                 {"added_tokens", added},
                 {"normalizer", {{"type", "NFC"}}},
                 {"pre_tokenizer", byte_level},
                 {"post_processor", byte_level},
                 {"decoder", byte_level},
                 {"model",
                  {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                   {"vocab", vocab}, {"merges", merges}}}};
    return root.dump();
}

const bpe_tokenizer& bytes_fixture() {
    static const bpe_tokenizer tok = bpe_tokenizer::from_string(make_bytes_fixture(false), "bytes-fixture");
    return tok;
}

// BPE as plainly as possible, on strings: merge the pair with the smallest rank, the leftmost of
// equal ones, until none is a merge; then look every symbol up.
ids_t naive_bpe(std::string_view piece) {
    static const std::map<std::pair<std::string, std::string>, int> ranks = [] {
        std::map<std::pair<std::string, std::string>, int> r;
        int k = 0;
        for (const auto& m : bytes_fixture_merges()) r.emplace(m, k++);
        return r;
    }();
    std::vector<std::string> sym;
    for (char c : piece) sym.emplace_back(1, c);
    for (;;) {
        int best_rank = -1;
        std::size_t best = 0;
        for (std::size_t i = 0; i + 1 < sym.size(); ++i) {
            const auto it = ranks.find({sym[i], sym[i + 1]});
            if (it != ranks.end() && (best_rank < 0 || it->second < best_rank)) {
                best_rank = it->second;
                best = i;
            }
        }
        if (best_rank < 0) break;
        sym[best] += sym[best + 1];
        sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    static const json vocab = json::parse(make_bytes_fixture(false))["model"]["vocab"];
    ids_t ids;
    for (const auto& s : sym) ids.push_back(vocab.at(to_symbols(s)).get<std::int32_t>());
    return ids;
}

// Splits text with the library's regex scanner.
std::vector<std::string> regex_split(std::string_view text) {
    std::vector<std::string> pieces;
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    for (std::size_t p = 0; p < text.size();) {
        const std::size_t e = rwkv::text::detail::gpt2_piece_end(s, text.size(), p);
        REQUIRE(e > p);
        REQUIRE(e <= text.size());
        pieces.emplace_back(text.substr(p, e - p));
        p = e;
    }
    return pieces;
}

// Random text from a pool of ASCII, CJK, emoji, combining marks, Hangul jamo and white space.
std::string random_text(std::mt19937& rng, std::size_t max_items) {
    static const std::vector<std::string> pool = {
        "a", "b", "c", "e", "h", "t", "x", "Z", "0", "1", "2", "9", " ", " ", " ", " ", "  ", "\t", "\n",
        "\r", "\n\n", std::string(1, '\0'), "\x01", "\x1f", "\x7f", "'", "'s", "'ll", "!", ".", ",", "?",
        "(", "\"", "-", "_", "#", "\xC3\xA9", "e\xCC\x81", "\xCC\x81", "\xCC\x88", "\xC3\x9F",
        "\xE4\xBD\xA0", "\xE5\xA5\xBD", "\xEF\xBC\x8C", "\xE4\xB8\x96", "\xF0\x9F\x98\x80",
        "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xE2\x80\x8D", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\xA8",
        "\xE1\x84\x80", "\xE1\x85\xA1", "\xE1\x86\xA8", "\xD8\xA7\xD9\x84", "\xD9\xA3", "\xC2\xBD",
        "\xE2\x85\xAB", "\xE2\x82\xAC", "abcabcabc", "the", " the", "\xCE\xA9", "\xD0\xB6"};
    std::uniform_int_distribution<std::size_t> count(0, max_items);
    std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
    std::string s;
    const std::size_t n = count(rng);
    for (std::size_t i = 0; i < n; ++i) s += pool[pick(rng)];
    return s;
}

}  // namespace

// ---- tiny.json -------------------------------------------------------------------------------
//
// Its vocab (the GPT-2 byte symbols: Ġ = space, Ċ = \n, ĉ = \t, Ã = byte 0xC3, © = byte 0xA9,
// ā = byte 0x01):
//    0 <|endoftext|>  1 <|padding|>   (also added tokens: special, normalized=false)
//    2 a  3 b  4 c  5 e  6 h  7 i  8 l  9 s  10 t  11 '  12 !  13 .  14 1  15 2
//   16 Ġ  17 Ċ  18 ĉ  19 Ã  20 ©  21 ā
//   22 bc  23 ab  24 abc  25 aa  26 's  27 it  28 12  29 !!  30 Ġa  31 Ġb  32 ĠĊ  33 Ã©  34 Ġ!
//   35 he  36 ll  37 'll  38 Ġab
//   39 "␣␣", 40 "␣␣␣": added tokens, normalized=true, not special (listed 40 first in the file)
// Merges, by rank: 0 "b c", 1 "a b", 2 "a bc", 3 "a a", 4 "' s", 5 "i t", 6 "1 2", 7 "! !",
//   8 "Ġ a", 9 "Ġ b", 10 "Ġ Ċ", 11 "Ã ©", 12 "Ġ !", 13 "h e", 14 "l l", 15 "' ll", 16 "Ġa b".
// The normalizer is NFC. Byte 0x02 has no symbol in this vocab.

TEST_CASE("bpe: tiny fixture loads", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    CHECK(t.vocab_size() == 41);
    REQUIRE(t.end_of_text_id().has_value());
    CHECK(*t.end_of_text_id() == 0);
    CHECK(t.display_name() == tiny_path().string());
    CHECK(t.is_special(0));
    CHECK(t.is_special(1));
    CHECK_FALSE(t.is_special(39));
    CHECK(t.has_token(40));
    CHECK_FALSE(t.has_token(41));
    CHECK_FALSE(t.has_token(-1));
}

TEST_CASE("bpe: merges apply by rank, leftmost first", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    // "abc": the pairs are (a,b) rank 1 and (b,c) rank 0. The lower rank goes first: a, bc; then
    // (a,bc) rank 2 gives abc. Merging in order of appearance would give ab, c (no "ab c" merge).
    CHECK(t.encode("abc") == ids_t{24});
    // " ab": (Ġ,a) rank 8 loses to (a,b) rank 1, leaving Ġ, ab; "Ġ ab" is no merge, so the vocab
    // token Ġab (reached only through "Ġa b") is not produced.
    CHECK(t.encode(" ab") == ids_t{16, 23});
    CHECK(t.encode(" b") == ids_t{31});
    // "aaa": (a,a) at positions 0 and 1 tie; the leftmost merges: aa, a (not a, aa).
    CHECK(t.encode("aaa") == ids_t{25, 2});
    // "he'll": he | 'll. In 'll, (',l) is no merge, (l,l) rank 14 gives ', ll, then "' ll" rank 15.
    CHECK(t.encode("he'll") == ids_t{35, 37});
}

TEST_CASE("bpe: the GPT-2 regex pre-split", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    // Contractions: it | 's. "'S" is no contraction (case-sensitive): ' is punctuation, S a
    // letter; S has no symbol in this vocab and is dropped.
    CHECK(t.encode("it's") == ids_t{27, 26});
    CHECK(t.encode("it'S") == ids_t{27, 11});
    // Letters and numbers are separate runs: a | 12 | b; a space joins the run after it: Ġ,1,2 →
    // Ġ, 12 (rank 6 first; "Ġ 12" is no merge).
    CHECK(t.encode("a12b") == ids_t{2, 28, 3});
    CHECK(t.encode(" 12") == ids_t{16, 28});
    // Punctuation runs: a | !! and " !!" (Ġ,!,! → Ġ, !! since "! !" rank 7 < "Ġ !" rank 12).
    CHECK(t.encode("a!!") == ids_t{2, 29});
    CHECK(t.encode(" !!") == ids_t{16, 29});
    CHECK(t.encode("a'!") == ids_t{2, 11, 12});  // ' is not a contraction here: the run '!
    // \s+(?!\S): in "a \n b" the run " \n " is followed by b, so it gives back its last space:
    // a | " \n" (ĠĊ) | " b" (Ġb). A plain \s+ would give " \n " and a lone b.
    CHECK(t.encode("a \n b") == ids_t{2, 32, 31});
    CHECK(t.encode("a \n") == ids_t{2, 32});  // at the end of the text the run is kept whole
    CHECK(t.encode("a\n") == ids_t{2, 17});
    // "\t\t" before b: \s+(?!\S) takes one \t, then the last \t is a one-character run (\s+).
    CHECK(t.encode("a\t\tb") == ids_t{2, 18, 18, 3});
}

TEST_CASE("bpe: space runs are added tokens matched before BPE", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    CHECK(t.encode("a  b") == ids_t{2, 39, 3});      // a, ␣␣, b — b gets no leading space
    CHECK(t.encode("a   b") == ids_t{2, 40, 3});     // longest match: ␣␣␣
    CHECK(t.encode("a    b") == ids_t{2, 40, 31});   // ␣␣␣ then " b" → Ġb
    CHECK(t.encode("a     b") == ids_t{2, 40, 39, 3});
    CHECK(t.encode("  a") == ids_t{39, 2});
}

TEST_CASE("bpe: special tokens in the text", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    CHECK(t.encode("ab<|endoftext|>c<|padding|>") == ids_t{23, 0, 4, 1});
    CHECK(t.encode("<|endoftext|><|endoftext|>") == ids_t{0, 0});
    // An incomplete special token is ordinary text: "<|" is a punctuation piece whose bytes have
    // no symbols here (dropped), and of the letters of "endoftext" only e, t, e, t have symbols.
    CHECK(t.encode("<|endoftext") == ids_t{5, 10, 5, 10});
}

TEST_CASE("bpe: NFC and the byte-level mapping", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    // e + U+0301 becomes é (C3 A9) before the split: symbols Ã © merge to Ã© (rank 11).
    CHECK(t.encode("e\xCC\x81") == ids_t{33});
    CHECK(t.encode("\xC3\xA9") == ids_t{33});
    CHECK(t.encode("\x01") == ids_t{21});    // a control byte: symbol ā (U+0101)
    CHECK(t.encode("a\x02" "b") == ids_t{2, 3});  // byte 0x02 has no vocab entry: dropped, as in HF
    CHECK(t.encode("").empty());
}

TEST_CASE("bpe: encode appends and rejects invalid UTF-8", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    ids_t out{99};
    t.encode("abc", out);
    t.encode(" b", out);
    CHECK(out == ids_t{99, 24, 31});
    for (const auto& [text, offset] : std::vector<std::pair<std::string, std::size_t>>{
             {"ab\xFF" "cd", 2}, {"\xC3", 0}, {"a\xED\xA0\x80", 1}, {"abc\xC0\xAF", 3}, {"\xE4\xBD", 0}}) {
        CAPTURE(offset);
        CHECK_THROWS_AS(t.encode(text, out), rwkv::invalid_argument);
        CHECK_THROWS_WITH(t.encode(text), Contains("byte offset " + std::to_string(offset)) &&
                                              Contains(tiny_path().string()));
    }
    CHECK(out == ids_t{99, 24, 31});
}

TEST_CASE("bpe: decoding skips special tokens and returns raw bytes", "[bpe]") {
    const bpe_tokenizer& t = tiny();
    CHECK(t.decode(ids_t{23, 0, 4, 1}) == "abc");
    CHECK(t.decode(ids_t{2, 40, 39, 3}) == "a     b");
    CHECK(t.decode(ids_t{2, 32, 31}) == "a \n b");
    CHECK(t.decode(ids_t{33}) == "\xC3\xA9");
    CHECK(t.decode(ids_t{19}) == "\xC3");  // half a character: the caller's utf8_stream_decoder
    CHECK(t.decode(ids_t{21, 18}) == "\x01\t");
    CHECK(t.token_bytes(0).empty());
    CHECK(t.token_bytes(1).empty());
    CHECK(t.token_bytes(38) == " ab");
    CHECK(t.token_bytes(39) == "  ");
    CHECK(t.token_bytes(20) == "\xA9");

    std::string out = "x";
    t.decode(ids_t{24}, out);
    CHECK(out == "xabc");
    CHECK_THROWS_AS(t.decode(ids_t{2, 41}, out), rwkv::invalid_argument);
    CHECK_THROWS_AS(t.decode(ids_t{-1}, out), rwkv::invalid_argument);
    CHECK_THROWS_WITH(t.token_bytes(41), Contains("41") && Contains("vocabulary size 41"));
    CHECK(out == "xabc");
}

TEST_CASE("bpe: merges may be written as pairs", "[bpe]") {
    json j = tiny_json();
    json pairs = json::array();
    for (const auto& m : j["model"]["merges"]) {
        const std::string s = m.get<std::string>();
        const auto sp = s.find(' ');
        pairs.push_back(json::array({s.substr(0, sp), s.substr(sp + 1)}));
    }
    j["model"]["merges"] = pairs;
    const bpe_tokenizer t = bpe_tokenizer::from_string(j.dump(), "pairs");
    for (const char* text : {"abc", " ab", "aaa", "he'll", "a \n b", "a    b", "e\xCC\x81", "it's 12!!"}) {
        CAPTURE(text);
        CHECK(t.encode(text) == tiny().encode(text));
    }
}

// ---- the regex scanner and the Unicode helpers ---------------------------------------------------

TEST_CASE("bpe: regex split, piece by piece", "[bpe]") {
    using v = std::vector<std::string>;
    CHECK(regex_split("Hello world") == v{"Hello", " world"});
    CHECK(regex_split("It's 2023!") == v{"It", "'s", " 2023", "!"});
    CHECK(regex_split("we're they've I'm you'll he'd don't") ==
          v{"we", "'re", " they", "'ve", " I", "'m", " you", "'ll", " he", "'d", " don", "'t"});
    CHECK(regex_split("'S 'x '") == v{"'", "S", " '", "x", " '"});
    CHECK(regex_split("'ss") == v{"'s", "s"});
    CHECK(regex_split("a1b2") == v{"a", "1", "b", "2"});
    CHECK(regex_split("x  y") == v{"x", " ", " y"});          // (the space-run tokens act earlier)
    CHECK(regex_split("x \t\n y") == v{"x", " \t\n", " y"});
    CHECK(regex_split("x\n\ny") == v{"x", "\n", "\n", "y"});
    CHECK(regex_split("x   ") == v{"x", "   "});
    CHECK(regex_split("   ") == v{"   "});
    CHECK(regex_split(" ") == v{" "});
    CHECK(regex_split(" .,;") == v{" .,;"});
    CHECK(regex_split("a.b") == v{"a", ".", "b"});
    // Non-ASCII letters and numbers: 你好 is one letter run, ， punctuation, ٣ (Nd), Ⅻ (Nl) and
    // ½ (No) are numbers, é (precomposed) a letter.
    CHECK(regex_split("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96") ==
          v{"\xE4\xBD\xA0\xE5\xA5\xBD", "\xEF\xBC\x8C", "\xE4\xB8\x96"});
    CHECK(regex_split("x\xD9\xA3\xE2\x85\xAB\xC2\xBD y") == v{"x", "\xD9\xA3\xE2\x85\xAB\xC2\xBD", " y"});
    CHECK(regex_split(" caf\xC3\xA9!") == v{" caf\xC3\xA9", "!"});
    // A combining mark (Mn) is not a letter: "e\u0301" splits (NFC runs before the split).
    CHECK(regex_split("e\xCC\x81x") == v{"e", "\xCC\x81", "x"});
    // Emoji (So) are punctuation-class; a space before them joins them.
    CHECK(regex_split("hi \xF0\x9F\x98\x80\xF0\x9F\x8E\x89!") == v{"hi", " \xF0\x9F\x98\x80\xF0\x9F\x8E\x89!"});
    // Unicode white space: NBSP and U+3000 are \s, only U+0020 is the optional leading space.
    CHECK(regex_split("a\xC2\xA0" "b") == v{"a", "\xC2\xA0", "b"});
    CHECK(regex_split("a\xE3\x80\x80\xE3\x80\x80" "b") == v{"a", "\xE3\x80\x80", "\xE3\x80\x80", "b"});
    CHECK(regex_split("a \xC2\xA0" "b") == v{"a", " ", "\xC2\xA0", "b"});
    // U+200B ZERO WIDTH SPACE and U+001C are not White_Space: they are punctuation-class.
    CHECK(regex_split("a\xE2\x80\x8B\x1C" "b") == v{"a", "\xE2\x80\x8B\x1C", "b"});
    CHECK(regex_split(std::string("a\0b", 3)) == v{"a", std::string(1, '\0'), "b"});
}

TEST_CASE("bpe: \\s is exactly White_Space (Oniguruma's Space class)", "[bpe]") {
    // Oniguruma unicode_property_data.c CR_Space, generated from PropList.txt White_Space.
    const std::set<std::uint32_t> singles = {0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    std::size_t mismatches = 0;
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const bool expected = (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x2000 && cp <= 0x200A) || singles.count(cp) != 0;
        if (rwkv::text::unicode::is_white_space(cp) != expected) ++mismatches;
    }
    CHECK(mismatches == 0);
    using rwkv::text::unicode::classify;
    using rwkv::text::unicode::regex_class;
    CHECK(classify('A') == regex_class::letter);
    CHECK(classify(0x4F60) == regex_class::letter);   // 你 (Lo)
    CHECK(classify(0x02B0) == regex_class::letter);   // ʰ (Lm)
    CHECK(classify(0x0663) == regex_class::number);   // ٣ (Nd)
    CHECK(classify(0x216B) == regex_class::number);   // Ⅻ (Nl)
    CHECK(classify(0x00BD) == regex_class::number);   // ½ (No)
    CHECK(classify(0x0301) == regex_class::other);    // combining acute (Mn)
    CHECK(classify(0x1F600) == regex_class::other);   // 😀 (So)
    CHECK(classify(0x180E) == regex_class::other);    // MONGOLIAN VOWEL SEPARATOR: Cf since 6.3
    CHECK(classify(0x10FFFF) == regex_class::other);  // noncharacter
}

TEST_CASE("bpe: UTF-8 validation offsets and chunked NFC", "[bpe]") {
    using rwkv::text::unicode::invalid_utf8_offset;
    constexpr auto ok = std::string_view::npos;
    CHECK(invalid_utf8_offset("") == ok);
    CHECK(invalid_utf8_offset("plain ascii text, long enough for the word loop") == ok);
    CHECK(invalid_utf8_offset("\xF0\x9F\x98\x80\xE4\xBD\xA0") == ok);
    CHECK(invalid_utf8_offset("abcdefghij\x80") == 10);
    CHECK(invalid_utf8_offset("ab\xF4\x90\x80\x80") == 2);  // above U+10FFFF
    CHECK(invalid_utf8_offset("\xE0\x80\x80") == 0);        // overlong

    CHECK(rwkv::text::unicode::nfc("cafe\xCC\x81") == "caf\xC3\xA9");
    CHECK(rwkv::text::unicode::nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8") == "\xEA\xB0\x81");  // jamo → 각
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        const std::string s = random_text(rng, 24);
        CAPTURE(s);
        REQUIRE(rwkv::text::unicode::nfc(s) == reference_nfc(s));
    }
}

// ---- the fixture with all 256 byte symbols --------------------------------------------------------

TEST_CASE("bpe: byte-level round trip gives back the NFC text", "[bpe]") {
    const bpe_tokenizer& t = bytes_fixture();
    const std::vector<std::string> fixed = {
        "Hello, world!\n", std::string("nul\0byte\x01\x7f", 10), "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C",
        "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD ok", "cafe\xCC\x81 e\xCC\x88", "  \t \n\n  x   \r\n", "\xC2\xA0\xE3\x80\x80"};
    for (const auto& s : fixed) {
        CAPTURE(s);
        CHECK(t.decode(t.encode(s)) == reference_nfc(s));
    }
    std::mt19937 rng(12345);
    for (int i = 0; i < 1500; ++i) {
        const std::string s = random_text(rng, 40);
        CAPTURE(s);
        const ids_t ids = t.encode(s);
        for (std::int32_t id : ids) REQUIRE(t.has_token(id));
        REQUIRE(t.decode(ids) == reference_nfc(s));
    }
    // A token may end inside a character: 0xE4 0xBD is a merge of its own.
    const ids_t partial = t.encode("\xE4\xBD\xA0");
    REQUIRE(partial.size() == 1);
    CHECK(t.token_bytes(partial[0]) == "\xE4\xBD\xA0");
    const ids_t two = t.encode("\xE4\xBD\xA1");  // 佡: E4 BD | A1
    REQUIRE(two.size() == 2);
    CHECK(t.token_bytes(two[0]) == "\xE4\xBD");
    rwkv::text::utf8_stream_decoder dec;
    CHECK(dec.push(t.token_bytes(two[0])).empty());
    CHECK(dec.push(t.token_bytes(two[1])) == "\xE4\xBD\xA1");
}

TEST_CASE("bpe: merge order matches a naive BPE, short and long pieces", "[bpe]") {
    // Pieces of letters a/b/c are single regex pieces; beyond 64 symbols the tokenizer switches
    // from rescanning to a heap, and both must agree with the naive definition.
    const bpe_tokenizer& t = bytes_fixture();
    std::mt19937 rng(99);
    std::uniform_int_distribution<int> letter(0, 2);
    for (std::size_t len : {1, 2, 3, 5, 8, 13, 40, 63, 64, 65, 66, 100, 257, 600}) {
        for (int rep = 0; rep < (len > 100 ? 3 : 20); ++rep) {
            std::string s;
            for (std::size_t i = 0; i < len; ++i) s += static_cast<char>('a' + letter(rng));
            CAPTURE(s);
            REQUIRE(t.encode(s) == naive_bpe(s));
        }
    }
    CHECK(t.encode(std::string(300, 'a')) == naive_bpe(std::string(300, 'a')));
    CHECK(t.encode(" the") == naive_bpe(" the"));
    const bpe_tokenizer pairs = bpe_tokenizer::from_string(make_bytes_fixture(true), "pairs");
    CHECK(pairs.encode("abcabcabc the 12's") == t.encode("abcabcabc the 12's"));
}

TEST_CASE("bpe: concurrent encoding", "[bpe]") {
    const bpe_tokenizer& t = bytes_fixture();
    std::mt19937 rng(5);
    std::vector<std::string> texts;
    for (int i = 0; i < 200; ++i) texts.push_back(random_text(rng, 60));
    std::vector<ids_t> expected;
    for (const auto& s : texts) expected.push_back(t.encode(s));
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < failures.size(); ++k) {
        threads.emplace_back([&, k] {
            for (int rep = 0; rep < 3; ++rep) {
                for (std::size_t i = 0; i < texts.size(); ++i) {
                    if (t.encode(texts[i]) != expected[i]) ++failures[k];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int f : failures) CHECK(f == 0);
}

// ---- errors -----------------------------------------------------------------------------------

namespace {

// Writes j (or raw text) to a temp tokenizer.json and checks from_file throws E with a message
// naming the file and containing `needle`.
template <class E>
void check_load_error(const std::string& contents, const std::string& needle) {
    rwkv_test::temp_dir dir;
    const auto path = dir.path / "tokenizer.json";
    rwkv_test::write_file_bytes(path, contents.data(), contents.size());
    CAPTURE(needle);
    CHECK_THROWS_AS(bpe_tokenizer::from_file(path), E);
    CHECK_THROWS_WITH(bpe_tokenizer::from_file(path), Contains(path.string()) && Contains(needle));
}

template <class E, class Edit>
void check_edit_error(Edit edit, const std::string& needle) {
    json j = tiny_json();
    edit(j);
    check_load_error<E>(j.dump(), needle);
}

}  // namespace

TEST_CASE("bpe: unreadable and malformed files", "[bpe]") {
    CHECK_THROWS_AS(bpe_tokenizer::from_file("/nonexistent/dir/tokenizer.json"), rwkv::io_error);
    CHECK_THROWS_WITH(bpe_tokenizer::from_file("/nonexistent/dir/tokenizer.json"),
                      Contains("/nonexistent/dir/tokenizer.json"));
    rwkv_test::temp_dir dir;
    CHECK_THROWS_AS(bpe_tokenizer::from_file(dir.path), rwkv::io_error);

    check_load_error<rwkv::format_error>("{\"model\": ", "malformed JSON");
    check_load_error<rwkv::format_error>("", "malformed JSON");
    check_load_error<rwkv::format_error>("[1, 2]", "expected a JSON object");
    check_load_error<rwkv::format_error>("{\"a\": \"\xFF\"}", "malformed JSON");
}

TEST_CASE("bpe: missing or malformed fields", "[bpe]") {
    using rwkv::format_error;
    check_edit_error<format_error>([](json& j) { j.erase("model"); }, "model: missing");
    check_edit_error<format_error>([](json& j) { j["model"].erase("type"); }, "model.type: missing");
    check_edit_error<format_error>([](json& j) { j["model"].erase("vocab"); }, "model.vocab: missing");
    check_edit_error<format_error>([](json& j) { j["model"].erase("merges"); }, "model.merges: missing");
    check_edit_error<format_error>([](json& j) { j["model"]["vocab"] = json::array(); },
                                   "model.vocab: expected an object");
    check_edit_error<format_error>([](json& j) { j["model"]["vocab"]["zz"] = -3; }, "model.vocab[\"zz\"]");
    check_edit_error<format_error>([](json& j) { j["model"]["vocab"]["zz"] = "7"; },
                                   "model.vocab[\"zz\"]: expected a token id");
    check_edit_error<format_error>([](json& j) { j["model"]["vocab"]["zz"] = 1u << 30; }, "outside 0..");
    check_edit_error<format_error>([](json& j) { j["model"]["vocab"]["zz"] = 5; }, "also the id of");
    check_edit_error<format_error>([](json& j) { j["model"]["merges"][3] = "x a"; },
                                   "model.merges[3]: the token \"x\" is not in model.vocab");
    check_edit_error<format_error>([](json& j) { j["model"]["merges"][4] = "c c"; },
                                   "model.merges[4]: the merged token \"cc\" is not in model.vocab");
    check_edit_error<format_error>([](json& j) { j["model"]["merges"][2] = "abc"; },
                                   "model.merges[2]: expected two tokens");
    check_edit_error<format_error>([](json& j) { j["model"]["merges"][2] = "a b c"; }, "model.merges[2]");
    check_edit_error<format_error>([](json& j) { j["model"]["merges"][1] = json::array({"a"}); }, "model.merges[1]");
    check_edit_error<format_error>([](json& j) { j["model"]["merges"][0] = 7; }, "model.merges[0]");
    check_edit_error<format_error>([](json& j) { j["added_tokens"] = json::object(); },
                                   "added_tokens: expected an array");
    check_edit_error<format_error>([](json& j) { j["added_tokens"][2].erase("id"); }, "added_tokens[2].id: missing");
    check_edit_error<format_error>([](json& j) { j["added_tokens"][2]["content"] = ""; },
                                   "added_tokens[2].content: empty");
    check_edit_error<format_error>([](json& j) { j["added_tokens"][0]["id"] = 5; }, "in model.vocab");
    check_edit_error<format_error>([](json& j) { j["added_tokens"][3]["id"] = 40; }, "appears twice");
    check_edit_error<format_error>([](json& j) { j["added_tokens"][3]["special"] = "yes"; },
                                   "added_tokens[3].special: expected true or false");
    check_edit_error<format_error>([](json& j) { j["normalizer"] = 3; }, "normalizer: expected an object");
    check_edit_error<format_error>([](json& j) { j["pre_tokenizer"].erase("add_prefix_space"); },
                                   "pre_tokenizer.add_prefix_space: missing");
}

TEST_CASE("bpe: unsupported configurations", "[bpe]") {
    using rwkv::unsupported_error;
    check_edit_error<unsupported_error>([](json& j) { j["model"]["type"] = "WordPiece"; }, "model.type: \"WordPiece\"");
    check_edit_error<unsupported_error>([](json& j) { j["model"]["dropout"] = 0.1; }, "model.dropout");
    check_edit_error<unsupported_error>([](json& j) { j["model"]["unk_token"] = "a"; }, "model.unk_token");
    check_edit_error<unsupported_error>([](json& j) { j["model"]["continuing_subword_prefix"] = "##"; },
                                        "model.continuing_subword_prefix");
    check_edit_error<unsupported_error>([](json& j) { j["model"]["byte_fallback"] = true; }, "model.byte_fallback");
    check_edit_error<unsupported_error>([](json& j) { j["model"]["ignore_merges"] = true; }, "model.ignore_merges");
    check_edit_error<unsupported_error>([](json& j) { j["pre_tokenizer"]["add_prefix_space"] = true; },
                                        "pre_tokenizer.add_prefix_space");
    check_edit_error<unsupported_error>([](json& j) { j["pre_tokenizer"]["use_regex"] = false; },
                                        "pre_tokenizer.use_regex");
    check_edit_error<unsupported_error>([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; },
                                        "pre_tokenizer.type");
    check_edit_error<unsupported_error>([](json& j) { j["pre_tokenizer"] = nullptr; }, "pre_tokenizer");
    check_edit_error<unsupported_error>(
        [](json& j) { j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFC"}}})}}; },
        "normalizer.type: \"Sequence\"");
    check_edit_error<unsupported_error>([](json& j) { j["normalizer"] = {{"type", "NFKC"}}; }, "normalizer.type");
    check_edit_error<unsupported_error>([](json& j) { j["decoder"] = {{"type", "WordPiece"}}; }, "decoder.type");
    check_edit_error<unsupported_error>([](json& j) { j.erase("decoder"); }, "decoder");
    check_edit_error<unsupported_error>([](json& j) { j["post_processor"] = {{"type", "TemplateProcessing"}}; },
                                        "post_processor.type");
    check_edit_error<unsupported_error>([](json& j) { j["truncation"] = {{"max_length", 5}}; }, "truncation");
    check_edit_error<unsupported_error>([](json& j) { j["added_tokens"][1]["lstrip"] = true; },
                                        "added_tokens[1].lstrip");
    check_edit_error<unsupported_error>([](json& j) { j["added_tokens"][2]["single_word"] = true; },
                                        "added_tokens[2].single_word");

    // The accepted variations: no normalizer (then e + U+0301 stays decomposed), no post-processor.
    json j = tiny_json();
    j["normalizer"] = nullptr;
    j.erase("post_processor");
    const bpe_tokenizer t = bpe_tokenizer::from_string(j.dump(), "no-nfc");
    CHECK(t.encode("e\xCC\x81") == ids_t{5});  // bytes CC 81 have no symbols here and are dropped
    CHECK(t.encode("\xC3\xA9") == ids_t{33});
}

// ---- the real 20B_tokenizer.json (optional) ------------------------------------------------------

TEST_CASE("bpe: GPT-NeoX 20B test vectors (RWKV_BPE_20B)", "[bpe]") {
    const char* env = std::getenv("RWKV_BPE_20B");
    if (env == nullptr || !std::filesystem::exists(env)) {
        WARN("RWKV_BPE_20B does not point to 20B_tokenizer.json: skipping the docs/spec/rwkv.md §7.2 vectors");
        return;
    }
    const bpe_tokenizer t = bpe_tokenizer::from_file(env);
    CHECK(t.vocab_size() == 50277);
    CHECK(t.end_of_text_id() == std::optional<std::int32_t>(0));
    const std::vector<std::pair<std::string, ids_t>> vectors = {
        {"Hello world", {12092, 1533}},
        {"a  b   c", {66, 50276, 67, 50275, 68}},
        {"    def f(x):\n        return x**2", {50274, 1545, 269, 9, 89, 2262, 187, 50270, 2309, 1269, 424, 19}},
        {"\n\nUser: hi", {187, 187, 6989, 27, 14260}},
        {"\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C", {24553, 34439, 6238, 42848, 45261}},
        {"It's 2023!", {1147, 434, 1384, 1508, 2}},
        {"<|endoftext|>Hi", {0, 12764}},
        {"cafe\xCC\x81", {68, 2320, 860}},
    };
    for (const auto& [text, ids] : vectors) {
        CAPTURE(text);
        CHECK(t.encode(text) == ids);
    }
    CHECK(t.decode(ids_t{0, 12764}) == "Hi");
    CHECK(t.decode(ids_t{68, 2320, 860}) == "caf\xC3\xA9");
    CHECK(t.token_bytes(50276) == "  ");
}
