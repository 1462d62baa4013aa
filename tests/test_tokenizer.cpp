// Tests of the tokenizers in include/rwkv/text/: the World tokenizer (docs/spec/rwkv.md §7.1: vocabulary
// parsing, greedy longest match, test vectors), the byte tokenizer, any_tokenizer, and the UTF-8
// helpers (strict validation, streaming decoder with U+FFFD per maximal invalid subpart).
// Tests that need rwkv_vocab_v20230424.txt skip with a warning when it is absent.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/text/byte_tokenizer.hpp"
#include "rwkv/text/tokenizer.hpp"
#include "rwkv/text/utf8.hpp"
#include "rwkv/text/world_tokenizer.hpp"
#include "test_support.hpp"

namespace {

using rwkv::text::any_tokenizer;
using rwkv::text::byte_tokenizer;
using rwkv::text::utf8_stream_decoder;
using rwkv::text::world_tokenizer;
using Catch::Matchers::Contains;

using ids_t = std::vector<std::int32_t>;

const std::string fffd = "\xEF\xBF\xBD";

// The official vocabulary, loaded once; nullptr (after a WARN) when the file is absent.
const world_tokenizer* official_world() {
    static const std::optional<world_tokenizer> tok = []() -> std::optional<world_tokenizer> {
        const auto path = rwkv_test::world_vocab_path();
        if (path.empty()) return std::nullopt;
        return world_tokenizer::from_file(path);
    }();
    if (!tok) WARN("World vocab not found (set RWKV_VOCAB_DIR): skipping");
    return tok ? &*tok : nullptr;
}

std::string read_text(const std::filesystem::path& p) {
    const auto bytes = rwkv_test::read_file_bytes(p);
    return {bytes.begin(), bytes.end()};
}

// UTF-8 encoding written independently of the library's append_utf8.
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

// The definition of greedy longest match, written as plainly as possible: at each position try
// every length from the longest token down to 1 in a map of all token byte strings.
class naive_matcher {
public:
    explicit naive_matcher(const world_tokenizer& t) {
        for (std::int32_t id = 1; id < t.vocab_size(); ++id) {
            if (!t.has_token(id)) continue;
            const std::string bytes(t.token_bytes(id));
            max_len_ = std::max(max_len_, bytes.size());
            map_.emplace(bytes, id);
        }
    }
    ids_t encode(std::string_view s) const {
        ids_t out;
        std::size_t p = 0;
        while (p < s.size()) {
            bool found = false;
            for (std::size_t len = std::min(max_len_, s.size() - p); len >= 1; --len) {
                auto it = map_.find(s.substr(p, len));
                if (it != map_.end()) {
                    out.push_back(it->second);
                    p += len;
                    found = true;
                    break;
                }
            }
            if (!found) throw std::runtime_error("naive matcher: no token");
        }
        return out;
    }

private:
    std::map<std::string, std::int32_t, std::less<>> map_;
    std::size_t max_len_ = 0;
};

// Random text mixing ASCII words, CJK, emoji, other scripts, raw bytes and long whitespace runs.
class text_generator {
public:
    explicit text_generator(std::uint32_t seed) : rng_(seed) {}

    int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    std::uint32_t uniform_u(std::uint32_t lo, std::uint32_t hi) {
        return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng_);
    }

    std::string mixed(int max_pieces, bool valid_utf8_only) {
        static const char* const words[] = {"the", " the", "Hello", " world", "User", ":", "Assistant",
                                            " and", "ing", " def", "return", "\n\n", "(x)", "**",
                                            "<|endoftext|>", "http://", " 2023", "你好", "，", "。"};
        std::string s;
        const int pieces = uniform(1, max_pieces);
        for (int k = 0; k < pieces; ++k) {
            const int kind = uniform(0, valid_utf8_only ? 7 : 8);
            switch (kind) {
                case 0: s += words[uniform(0, static_cast<int>(std::size(words)) - 1)]; break;
                case 1:
                    for (int n = uniform(1, 12); n > 0; --n) s += static_cast<char>(uniform(0x20, 0x7E));
                    break;
                case 2:
                    for (int n = uniform(1, 6); n > 0; --n) s += utf8_of(uniform_u(0x4E00, 0x9FFF));
                    break;
                case 3:
                    for (int n = uniform(1, 3); n > 0; --n) {
                        s += utf8_of(uniform(0, 1) ? uniform_u(0x1F600, 0x1F64F) : uniform_u(0x1F300, 0x1F5FF));
                    }
                    break;
                case 4: {
                    const char ws[] = {' ', '\n', '\t', '\r'};
                    const char c = ws[uniform(0, uniform(0, 1) ? 0 : 3)];
                    s.append(static_cast<std::size_t>(uniform(1, 200)), c);
                    break;
                }
                case 5:
                    for (int n = uniform(1, 4); n > 0; --n) s += utf8_of(uniform_u(0x80, 0x4FF));
                    break;
                case 6: s += utf8_of(random_scalar()); break;
                case 7:
                    for (int n = uniform(1, 8); n > 0; --n) {
                        s += uniform(0, 1) ? "  " : (uniform(0, 1) ? " \n" : "\n ");
                    }
                    break;
                default:
                    for (int n = uniform(1, 10); n > 0; --n) s += static_cast<char>(uniform(0, 255));
                    break;
            }
        }
        return s;
    }

    std::string random_bytes(int max_len) {
        std::string s(static_cast<std::size_t>(uniform(0, max_len)), '\0');
        for (char& c : s) c = static_cast<char>(uniform(0, 255));
        return s;
    }

    // Byte soup biased towards UTF-8 structure: lead bytes, continuation bytes, ASCII, fragments
    // of valid characters, and the classic bad sequences.
    std::string utf8_like_bytes(int max_len) {
        std::string s;
        const int n = uniform(0, max_len);
        while (static_cast<int>(s.size()) < n) {
            switch (uniform(0, 5)) {
                case 0: s += static_cast<char>(uniform(0x00, 0x7F)); break;
                case 1: s += static_cast<char>(uniform(0x80, 0xBF)); break;
                case 2: s += static_cast<char>(uniform(0xC0, 0xFF)); break;
                case 3: {
                    const std::string c = utf8_of(random_scalar());
                    s += c.substr(0, static_cast<std::size_t>(uniform(1, static_cast<int>(c.size()))));
                    break;
                }
                case 4: s += utf8_of(random_scalar()); break;
                default: {
                    static const char* const bad[] = {"\xED\xA0\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xF4\x90\x80\x80",
                                                      "\xF0\x8F\xBF\xBF", "\xF8\x88\x80\x80\x80", "\xEF\xBF\xBF"};
                    s += bad[uniform(0, static_cast<int>(std::size(bad)) - 1)];
                    break;
                }
            }
        }
        return s;
    }

    std::uint32_t random_scalar() {
        for (;;) {
            const int range = uniform(0, 3);
            const std::uint32_t cp = range == 0   ? uniform_u(0, 0x7F)
                                     : range == 1 ? uniform_u(0x80, 0x7FF)
                                     : range == 2 ? uniform_u(0x800, 0xFFFF)
                                                  : uniform_u(0x10000, 0x10FFFF);
            if (cp < 0xD800 || cp > 0xDFFF) return cp;
        }
    }

    std::string valid_utf8(int max_chars) {
        std::string s;
        for (int n = uniform(0, max_chars); n > 0; --n) s += utf8_of(random_scalar());
        return s;
    }

    std::mt19937& rng() { return rng_; }

private:
    std::mt19937 rng_;
};

// Reference for "decode with U+FFFD per maximal subpart", done arithmetically on code points
// rather than with the library's lead-byte table.
std::string reference_replace_decode(std::string_view s) {
    auto byte_at = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])); };
    // Sequence length announced by a lead byte by its bit pattern (0: not a lead byte).
    auto announced = [](std::uint32_t b) -> std::size_t {
        if (b < 0x80) return 1;
        if ((b & 0xE0) == 0xC0) return 2;
        if ((b & 0xF0) == 0xE0) return 3;
        if ((b & 0xF8) == 0xF0) return 4;
        return 0;
    };
    // Whether some code point in [lo, hi] is a valid scalar that needs exactly len bytes.
    auto range_ok = [](std::uint32_t lo, std::uint32_t hi, std::size_t len) {
        const std::uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        const std::uint32_t max_cp[] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
        lo = std::max(lo, min_cp[len]);
        hi = std::min(hi, max_cp[len]);
        if (lo > hi) return false;
        return lo < 0xD800 || hi > 0xDFFF;  // not entirely inside the surrogates
    };
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t len = announced(byte_at(i));
        if (len == 0) {
            out += fffd;
            ++i;
            continue;
        }
        // Longest k ≤ len such that s[i, i+k) is a prefix of some well-formed sequence.
        std::size_t k = 0;
        for (std::size_t m = 1; m <= len && i + m <= s.size(); ++m) {
            if (m > 1 && (byte_at(i + m - 1) & 0xC0) != 0x80) break;
            std::uint32_t cp = byte_at(i) & (len == 1 ? 0x7F : (0xFFu >> (len + 1)));
            for (std::size_t j = 1; j < m; ++j) cp = cp * 64 + (byte_at(i + j) & 0x3F);
            const std::uint32_t free_bits = static_cast<std::uint32_t>(6 * (len - m));
            const std::uint32_t lo = cp << free_bits;
            const std::uint32_t hi = lo + ((1u << free_bits) - 1);
            if (!range_ok(lo, hi, len)) break;
            k = m;
        }
        if (k == len) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += fffd;
            i += std::max<std::size_t>(k, 1);
        }
    }
    return out;
}

std::string repeat(std::string_view s, int n) {
    std::string out;
    for (int k = 0; k < n; ++k) out += s;
    return out;
}

// A small hand-written vocabulary exercising every literal form. Ids 26..29 are unused.
const char* const escape_vocab =
    "1 'a' 1\n"
    "2 \"'\" 1\n"
    "3 '\"' 1\n"
    "4 '\\n\\t\\r' 3\n"
    "5 '\\\\' 1\n"
    "6 '\\'' 1\n"
    "7 \"\\\"\" 1\n"
    "8 '\\x80' 2\n"
    "9 '\\xfF' 2\n"
    "10 '\\u2002' 3\n"
    "11 '\\U0001F642' 4\n"
    "12 '\\101\\0' 2\n"
    "13 '\\a\\b\\f\\v' 4\n"
    "14 b'\\x80' 1\n"
    "15 b'\\xff\\x00a' 3\n"
    "16 b\"it's\" 4\n"
    "17 b'\\n\\\\\\'' 3\n"
    "18 ' ' 1\n"
    "19 'a b' 3\n"
    "20 '你好' 6\n"
    "21 u'x' 1\n"
    "22 r'\\n' 2\n"
    "23 b'\\377\\1' 2\n"
    "24 'é' 2\n"
    "25 '  ' 2\n"
    "30 B'\\t' 1\n";

}  // namespace

// ------------------------------------------------------------------------------------------------
// World tokenizer on the official vocabulary
// ------------------------------------------------------------------------------------------------

TEST_CASE("World tokenizer: docs/spec/rwkv.md 7.1 test vectors", "[tokenizer]") {
    const world_tokenizer* tok = official_world();
    if (!tok) return;
    const std::vector<std::pair<std::string, ids_t>> vectors = {
        {"Hello world", {33155, 40213}},
        {"\n\nUser: hi\n\nAssistant:", {261, 24281, 59, 4571, 261, 5585, 41693, 59}},
        {"你好，世界", {10464, 11685, 19137, 10267, 14610}},
        {"The quick brown fox jumps over the lazy dog.",
         {6699, 39418, 37917, 21704, 38828, 31601, 22590, 31261, 21551, 47}},
        {"\xC2\x80\xC2\xA0x", {2423, 2430, 121}},
        {"    def f(x):\n        return x**2", {19250, 7334, 337, 41, 121, 501, 54807, 42178, 355, 520, 51}},
        {"🙂 emoji", {3319, 2417, 38362}},
        {"a  b   c", {98, 267, 99, 3340, 100}},
    };
    for (const auto& [text, ids] : vectors) {
        INFO("text: " << text);
        CHECK(tok->encode(text) == ids);
        CHECK(tok->decode(ids) == text);
        ids_t appended = {7};
        tok->encode(text, appended);
        ids_t expected = {7};
        expected.insert(expected.end(), ids.begin(), ids.end());
        CHECK(appended == expected);
    }
    CHECK(tok->encode("").empty());
}

TEST_CASE("World tokenizer: official vocabulary contents", "[tokenizer]") {
    const world_tokenizer* tok = official_world();
    if (!tok) return;
    CHECK(tok->vocab_size() == 65530);
    CHECK(tok->token_bytes(1) == std::string(1, '\0'));
    CHECK(tok->token_bytes(256) == "\xFF");
    CHECK(tok->token_bytes(33) == " ");
    CHECK(tok->token_bytes(2423) == "\xC2\x80");
    CHECK(tok->token_bytes(65529) == std::string(128, ' '));
    CHECK(tok->token_bytes(41) == "(");
    CHECK(tok->token_bytes(40) == "'");
    for (int b = 0; b < 256; ++b) {
        REQUIRE(tok->token_bytes(b + 1) == std::string(1, static_cast<char>(b)));
    }

    // Every id 1..65529 has an entry whose length is the file's <nbytes> column.
    const std::string text = read_text(rwkv_test::world_vocab_path());
    std::size_t lines = 0, pos = 0, mismatches = 0;
    std::vector<bool> seen(65530, false);
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.empty()) continue;
        ++lines;
        const int id = std::stoi(line.substr(0, line.find(' ')));
        const std::size_t nbytes = std::stoul(line.substr(line.rfind(' ') + 1));
        REQUIRE(id >= 1);
        REQUIRE(id < 65530);
        seen[static_cast<std::size_t>(id)] = true;
        if (tok->token_bytes(id).size() != nbytes) ++mismatches;
    }
    CHECK(lines == 65529);
    CHECK(mismatches == 0);
    CHECK(std::count(seen.begin() + 1, seen.end(), true) == 65529);
    for (std::int32_t id = 1; id < 65530; ++id) REQUIRE(tok->has_token(id));
    CHECK_FALSE(tok->has_token(0));
    CHECK_FALSE(tok->has_token(65530));
}

TEST_CASE("World tokenizer: greedy longest match equals a naive matcher", "[tokenizer]") {
    const world_tokenizer* tok = official_world();
    if (!tok) return;
    const naive_matcher naive(*tok);
    text_generator gen(20240424);
    int checked = 0;
    for (int k = 0; k < 2000; ++k) {
        const std::string s = gen.mixed(10, false);
        const ids_t fast = tok->encode(s);
        const ids_t slow = naive.encode(s);
        if (fast != slow) {
            FAIL_CHECK("mismatch on random string #" << k << " of " << s.size() << " bytes");
        }
        ++checked;
    }
    // Long whitespace runs exercise the 128-space token and its prefixes.
    for (int n : {1, 2, 127, 128, 129, 255, 256, 257, 1000}) {
        const std::string spaces(static_cast<std::size_t>(n), ' ');
        CHECK(tok->encode(spaces) == naive.encode(spaces));
        const std::string newlines(static_cast<std::size_t>(n), '\n');
        CHECK(tok->encode(newlines) == naive.encode(newlines));
        ++checked;
    }
    CHECK(checked >= 2000);
}

TEST_CASE("World tokenizer: decode(encode(s)) == s", "[tokenizer]") {
    const world_tokenizer* tok = official_world();
    if (!tok) return;
    text_generator gen(7);
    for (int k = 0; k < 500; ++k) {
        const std::string raw = gen.random_bytes(300);
        REQUIRE(tok->decode(tok->encode(raw)) == raw);
        const std::string valid = gen.valid_utf8(100);
        REQUIRE(rwkv::text::is_valid_utf8(valid));
        REQUIRE(tok->decode(tok->encode(valid)) == valid);
    }
    const std::string with_nuls("a\0b\0\0\xFF\xFE\r\n", 9);
    CHECK(tok->decode(tok->encode(with_nuls)) == with_nuls);
    CHECK(tok->encode(std::string(1, '\0')) == ids_t{1});
    CHECK(tok->encode("<|endoftext|>") != ids_t{0});  // no special-token parsing

    // decode appends
    std::string out = "x";
    tok->decode(tok->encode("Hello world"), out);
    CHECK(out == "xHello world");
}

TEST_CASE("World tokenizer: CRLF vocabulary gives the same tokenizer", "[tokenizer]") {
    const world_tokenizer* tok = official_world();
    if (!tok) return;
    const std::string lf = read_text(rwkv_test::world_vocab_path());
    std::string crlf;
    crlf.reserve(lf.size() + 70000);
    for (char c : lf) {
        if (c == '\n') crlf += '\r';
        crlf += c;
    }
    const world_tokenizer from_crlf = world_tokenizer::from_string(crlf, "vocab-crlf.txt");
    REQUIRE(from_crlf.vocab_size() == tok->vocab_size());
    for (std::int32_t id = 0; id < tok->vocab_size(); ++id) {
        REQUIRE(from_crlf.has_token(id) == tok->has_token(id));
        if (tok->has_token(id)) REQUIRE(from_crlf.token_bytes(id) == tok->token_bytes(id));
    }
    // Without the final newline, too.
    const world_tokenizer no_final = world_tokenizer::from_string(
        std::string_view(crlf).substr(0, crlf.size() - 2), "vocab-crlf-nofinal.txt");
    CHECK(no_final.vocab_size() == tok->vocab_size());
    text_generator gen(99);
    for (int k = 0; k < 100; ++k) {
        const std::string s = gen.mixed(8, false);
        REQUIRE(from_crlf.encode(s) == tok->encode(s));
        REQUIRE(no_final.encode(s) == tok->encode(s));
    }
}

TEST_CASE("World tokenizer: invalid ids", "[tokenizer]") {
    const world_tokenizer* tok = official_world();
    if (!tok) return;
    CHECK(tok->decode(ids_t{0}) == "");
    CHECK(tok->token_bytes(0).empty());
    CHECK(tok->decode(ids_t{33155, 0, 40213}) == "Hello world");
    for (std::int32_t bad : {-1, 65530, 65535, 70000, INT32_MIN, INT32_MAX}) {
        INFO("id " << bad);
        CHECK_THROWS_AS(tok->decode(ids_t{33155, bad}), rwkv::invalid_argument);
        CHECK_THROWS_WITH(tok->decode(ids_t{bad}), Contains(std::to_string(bad)));
        CHECK_THROWS_AS(tok->token_bytes(bad), rwkv::invalid_argument);
    }
    std::string out = "keep";
    CHECK_THROWS_AS(tok->decode(ids_t{33155, 65531}, out), rwkv::invalid_argument);
    CHECK(out == "keep");
}

TEST_CASE("World tokenizer: from_file errors", "[tokenizer]") {
    rwkv_test::temp_dir dir;
    CHECK_THROWS_AS(world_tokenizer::from_file(dir.path / "missing.txt"), rwkv::io_error);
    CHECK_THROWS_WITH(world_tokenizer::from_file(dir.path / "missing.txt"), Contains("missing.txt"));
    CHECK_THROWS_AS(world_tokenizer::from_file(dir.path), rwkv::io_error);

    const auto bad = dir.path / "bad-vocab.txt";
    const std::string contents = "1 'a' 1\n2 'b' 1\n3 'cd' 3\n";
    rwkv_test::write_file_bytes(bad, contents.data(), contents.size());
    CHECK_THROWS_AS(world_tokenizer::from_file(bad), rwkv::format_error);
    CHECK_THROWS_WITH(world_tokenizer::from_file(bad), Contains("bad-vocab.txt") && Contains("line 3"));

    const auto good = dir.path / "good-vocab.txt";
    rwkv_test::write_file_bytes(good, escape_vocab, std::string_view(escape_vocab).size());
    const world_tokenizer t = world_tokenizer::from_file(good);
    CHECK(t.vocab_size() == 31);
    CHECK(t.display_name() == good.string());
}

// ------------------------------------------------------------------------------------------------
// World tokenizer on hand-written vocabularies
// ------------------------------------------------------------------------------------------------

TEST_CASE("World tokenizer: literal escapes and quote styles", "[tokenizer]") {
    const world_tokenizer t = world_tokenizer::from_string(escape_vocab, "escapes.txt");
    CHECK(t.vocab_size() == 31);
    CHECK(t.token_bytes(1) == "a");
    CHECK(t.token_bytes(2) == "'");
    CHECK(t.token_bytes(3) == "\"");
    CHECK(t.token_bytes(4) == "\n\t\r");
    CHECK(t.token_bytes(5) == "\\");
    CHECK(t.token_bytes(6) == "'");
    CHECK(t.token_bytes(7) == "\"");
    CHECK(t.token_bytes(8) == "\xC2\x80");          // \x in a str is a code point, UTF-8 encoded
    CHECK(t.token_bytes(9) == "\xC3\xBF");
    CHECK(t.token_bytes(10) == "\xE2\x80\x82");
    CHECK(t.token_bytes(11) == "\xF0\x9F\x99\x82");
    CHECK(t.token_bytes(12) == std::string("A\0", 2));
    CHECK(t.token_bytes(13) == "\a\b\f\v");
    CHECK(t.token_bytes(14) == "\x80");              // \x in bytes is a raw byte
    CHECK(t.token_bytes(15) == std::string("\xFF\0a", 3));
    CHECK(t.token_bytes(16) == "it's");
    CHECK(t.token_bytes(17) == "\n\\'");
    CHECK(t.token_bytes(18) == " ");
    CHECK(t.token_bytes(19) == "a b");
    CHECK(t.token_bytes(20) == "你好");
    CHECK(t.token_bytes(21) == "x");
    CHECK(t.token_bytes(22) == "\\n");
    CHECK(t.token_bytes(23) == "\xFF\x01");
    CHECK(t.token_bytes(24) == "é");
    CHECK(t.token_bytes(25) == "  ");
    CHECK(t.token_bytes(30) == "\t");
    for (std::int32_t unused : {26, 27, 28, 29, 31, -5}) {
        CHECK_FALSE(t.has_token(unused));
        CHECK_THROWS_AS(t.token_bytes(unused), rwkv::invalid_argument);
        CHECK_THROWS_WITH(t.decode(ids_t{unused}), Contains(std::to_string(unused)));
    }
    CHECK(t.decode(ids_t{0}) == "");

    // Greedy longest match on the small vocabulary; a byte no token starts with is an error.
    CHECK(t.encode("a b") == ids_t{19});
    CHECK(t.encode("a  a") == ids_t{1, 25, 1});
    CHECK(t.encode("   ") == ids_t{25, 18});
    CHECK(t.encode("你好\xC2\x80") == ids_t{20, 8});
    CHECK_THROWS_AS(t.encode("az"), rwkv::invalid_argument);
    CHECK_THROWS_WITH(t.encode("az"), Contains("0x7a") && Contains("offset 1"));

    // A UTF-8 byte-order mark at the start of the file is ignored; tokens with the same bytes
    // encode as the smaller id.
    const world_tokenizer bom = world_tokenizer::from_string("\xEF\xBB\xBF" "5 'q' 1\n3 'q' 1\n", "bom.txt");
    CHECK(bom.vocab_size() == 6);
    CHECK(bom.encode("qq") == ids_t{3, 3});
}

TEST_CASE("World tokenizer: malformed vocabulary lines", "[tokenizer]") {
    struct bad_case {
        const char* contents;
        const char* line;       // "line N"
        const char* mentions;   // part of the explanation
    };
    const bad_case cases[] = {
        {"1 'a' 1\n2 'bc' 3\n", "line 2", "byte count 3"},
        {"1 'a' 1\n\n3 'abc 3\n", "line 3", "unterminated"},
        {"1 'a' 1\n2 'b\\' 1\n", "line 2", "unterminated"},
        {"1 b'abc 3\n", "line 1", "unterminated"},
        {"1 '\\xZZ' 1\n", "line 1", "\\x"},
        {"1 'a' 1\n2 b'\\x8' 1\n", "line 2", "\\x"},
        {"1 'a' 1\n2 'b' 1\n1 'c' 1\n", "line 3", "duplicate id 1"},
        {"1 'a' 1\nhello\n", "line 2", "expected"},
        {"1 'a' 1\n2 'b' 1\n\xFF\xFE garbage \x01\n", "line 3", "non-numeric id"},
        {"x1 'a' 1\n", "line 1", "non-numeric id"},
        {"-1 'a' 1\n", "line 1", "non-numeric id"},
        {"1 'a' one\n", "line 1", "non-numeric byte count"},
        {"1 'a' \n", "line 1", "non-numeric byte count"},
        {"1 '\\q' 2\n", "line 1", "unknown escape"},
        {"1 b'\\u1234' 6\n", "line 1", "unknown escape"},
        {"1 '\\u12' 2\n", "line 1", "\\u"},
        {"1 '\\U00110000' 4\n", "line 1", "U+10FFFF"},
        {"1 '\\ud800' 3\n", "line 1", "surrogate"},
        {"1 '\\N{BULLET}' 3\n", "line 1", "\\N"},
        {"1 'a'b 2\n", "line 1", "after the closing quote"},
        {"1 'a'b' 3\n", "line 1", "after the closing quote"},
        {"1 abc 3\n", "line 1", "quoted"},
        {"1 x'a' 1\n", "line 1", "quoted"},
        {"0 'a' 1\n", "line 1", "reserved"},
        {"99999999999 'a' 1\n", "line 1", "larger than"},
        {"1 b'\xC3\xA9' 2\n", "line 1", "non-ASCII"},
        {"1 '\xFF' 1\n", "line 1", "UTF-8"},
        {"1 '' 0\n", "line 1", "empty token"},
        {"1 'a' 1\r\n2 'b' 2\r\n", "line 2", "byte count 2"},
        {"1 'a' 1\n2  1\n", "line 2", "quoted"},
        {"1 b'\\777' 1\n", "line 1", "octal"},
    };
    for (const bad_case& c : cases) {
        INFO("vocab: " << c.contents);
        CHECK_THROWS_AS(world_tokenizer::from_string(c.contents, "bad.txt"), rwkv::format_error);
        CHECK_THROWS_WITH(world_tokenizer::from_string(c.contents, "bad.txt"),
                          Contains("bad.txt") && Contains(c.line) && Contains(c.mentions));
    }
    CHECK_THROWS_AS(world_tokenizer::from_string("", "empty.txt"), rwkv::format_error);
    CHECK_THROWS_WITH(world_tokenizer::from_string("\n\r\n\n", "empty.txt"),
                      Contains("empty.txt") && Contains("no tokens"));
}

// ------------------------------------------------------------------------------------------------
// UTF-8 helpers
// ------------------------------------------------------------------------------------------------

TEST_CASE("is_valid_utf8", "[tokenizer]") {
    using rwkv::text::is_valid_utf8;
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ASCII with a \0 inside"));
    CHECK(is_valid_utf8(std::string("nul\0byte", 8)));
    CHECK(is_valid_utf8("你好，世界 🙂 é \xC2\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF"));
    CHECK_FALSE(is_valid_utf8("\xFF"));
    CHECK_FALSE(is_valid_utf8("\x80"));
    CHECK_FALSE(is_valid_utf8("\xE4\xBD"));              // truncated
    CHECK_FALSE(is_valid_utf8("abcdefgh\xE4\xBD"));
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));              // overlong
    CHECK_FALSE(is_valid_utf8("\xC1\xBF"));
    CHECK_FALSE(is_valid_utf8("\xE0\x9F\xBF"));
    CHECK_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));          // surrogate
    CHECK_FALSE(is_valid_utf8("\xED\xBF\xBF"));
    CHECK(is_valid_utf8("\xED\x9F\xBF"));                // U+D7FF
    CHECK(is_valid_utf8("\xEE\x80\x80"));                // U+E000
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xE4\x41\xA0"));          // bad continuation

    text_generator gen(5);
    for (int k = 0; k < 2000; ++k) {
        const std::string v = gen.valid_utf8(40);
        REQUIRE(is_valid_utf8(v));
        const std::string s = gen.utf8_like_bytes(40);
        REQUIRE(is_valid_utf8(s) == (reference_replace_decode(s) == s));
    }
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x20000 ? 1 : 97)) {
        const std::string enc = utf8_of(cp);
        REQUIRE(is_valid_utf8(enc) == (cp < 0xD800 || cp > 0xDFFF));
        std::string lib;
        if (cp < 0xD800 || cp > 0xDFFF) {
            rwkv::text::append_utf8(lib, cp);
            REQUIRE(lib == enc);
        }
    }
}

TEST_CASE("utf8_stream_decoder: hand cases", "[tokenizer]") {
    auto decode_all = [](std::string_view s) {
        utf8_stream_decoder d;
        std::string out = d.push(s);
        out += d.flush();
        return out;
    };
    CHECK(decode_all("\xFF") == fffd);
    CHECK(decode_all("\xED\xA0\x80") == fffd + fffd + fffd);       // surrogate: 3, as Python
    CHECK(decode_all("\xC0\xAF") == fffd + fffd);                  // overlong: 2
    CHECK(decode_all("\xE0\x80\xAF") == fffd + fffd + fffd);
    CHECK(decode_all("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);
    CHECK(decode_all("\xE4\xBD" "A") == fffd + "A");               // truncated then ASCII: 1
    CHECK(decode_all("\xF0\x9F\x99" "x") == fffd + "x");
    CHECK(decode_all("\xE4\xBD\xE4\xBD\xA0") == fffd + "你");
    CHECK(decode_all("a\x80\x80" "b") == "a" + fffd + fffd + "b");
    CHECK(decode_all("\xF8\x88\x80\x80\x80") == repeat(fffd, 5));

    utf8_stream_decoder d;
    CHECK(d.push("\xE4\xBD") == "");
    CHECK(d.pending_size() == 2);
    CHECK(d.flush() == fffd);
    CHECK(d.pending_size() == 0);
    CHECK(d.flush() == "");

    CHECK(d.push("ok \xF0\x9F") == "ok ");
    CHECK(d.push("\x99") == "");
    CHECK(d.push("\x82!") == "🙂!");
    CHECK(d.flush() == "");

    CHECK(d.push("\xE4") == "");
    d.reset();
    CHECK(d.pending_size() == 0);
    CHECK(d.push("z") == "z");

    // The appending overload writes into a caller's buffer.
    std::string buf = "<";
    buf.reserve(64);
    d.push("\xE4\xBD", buf);
    d.push("\xA0>", buf);
    d.flush(buf);
    CHECK(buf == "<你>");
}

TEST_CASE("utf8_stream_decoder: random input against a reference", "[tokenizer]") {
    text_generator gen(11);
    for (int k = 0; k < 3000; ++k) {
        const std::string s = k % 2 ? gen.utf8_like_bytes(60) : gen.random_bytes(60);
        const std::string expected = reference_replace_decode(s);
        REQUIRE(rwkv::text::is_valid_utf8(expected));

        // In random chunks: same result regardless of the split, every piece valid.
        utf8_stream_decoder d;
        std::string out;
        std::size_t pos = 0;
        while (pos < s.size()) {
            const auto len = std::min<std::size_t>(s.size() - pos, static_cast<std::size_t>(gen.uniform(0, 7)));
            const std::string piece = d.push(std::string_view(s).substr(pos, len));
            REQUIRE(rwkv::text::is_valid_utf8(piece));
            out += piece;
            pos += len;
        }
        out += d.flush();
        INFO("case " << k);
        REQUIRE(out == expected);
    }
}

TEST_CASE("utf8_stream_decoder: token by token and byte by byte", "[tokenizer]") {
    std::vector<std::string> texts = {"你好，世界", "🙂 emoji 🎉🎉 mixed 日本語 and ASCII", "é à ü ß Ω Ж",
                                      "\xC2\x80\xC2\xA0x", "plain"};
    text_generator gen(3);
    for (int k = 0; k < 200; ++k) texts.push_back(gen.mixed(8, true));

    for (const std::string& s : texts) {
        REQUIRE(rwkv::text::is_valid_utf8(s));
        // Byte by byte.
        utf8_stream_decoder d;
        std::string out;
        for (char c : s) {
            const std::string piece = d.push(std::string_view(&c, 1));
            REQUIRE(rwkv::text::is_valid_utf8(piece));
            out += piece;
        }
        out += d.flush();
        REQUIRE(out == s);
    }

    const world_tokenizer* tok = official_world();
    if (!tok) return;
    std::size_t split_tokens = 0;
    for (const std::string& s : texts) {
        utf8_stream_decoder d;
        std::string out;
        for (std::int32_t id : tok->encode(s)) {
            const std::string_view bytes = tok->token_bytes(id);
            if (!rwkv::text::is_valid_utf8(bytes)) ++split_tokens;
            const std::string piece = d.push(bytes);
            REQUIRE(rwkv::text::is_valid_utf8(piece));
            out += piece;
        }
        out += d.flush();
        REQUIRE(out == s);
    }
    // Random CJK and emoji do get split across tokens, so the held-back path is exercised.
    CHECK(split_tokens > 0);
}

// ------------------------------------------------------------------------------------------------
// Byte tokenizer and any_tokenizer
// ------------------------------------------------------------------------------------------------

TEST_CASE("byte_tokenizer", "[tokenizer]") {
    const byte_tokenizer t;
    CHECK(t.vocab_size() == 256);
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    const ids_t ids = t.encode(all);
    REQUIRE(ids.size() == 256);
    for (int b = 0; b < 256; ++b) CHECK(ids[static_cast<std::size_t>(b)] == b);
    CHECK(t.decode(ids) == all);
    CHECK(t.token_bytes(0) == std::string(1, '\0'));  // id 0 is the NUL byte, not end of text
    CHECK(t.token_bytes(255) == "\xFF");
    CHECK(t.decode(ids_t{0}) == std::string(1, '\0'));
    for (std::int32_t bad : {-1, 256, 65535}) {
        CHECK_THROWS_AS(t.decode(ids_t{bad}), rwkv::invalid_argument);
        CHECK_THROWS_WITH(t.token_bytes(bad), Contains(std::to_string(bad)));
    }
    text_generator gen(1);
    for (int k = 0; k < 200; ++k) {
        const std::string s = gen.random_bytes(100);
        REQUIRE(t.decode(t.encode(s)) == s);
    }
    ids_t appended = {300};
    t.encode("AB", appended);
    CHECK(appended == ids_t{300, 65, 66});
}

TEST_CASE("any_tokenizer forwards to the tokenizer it holds", "[tokenizer]") {
    const any_tokenizer bytes{byte_tokenizer{}};
    CHECK(bytes.name() == "bytes");
    CHECK(bytes.vocab_size() == 256);
    CHECK_FALSE(bytes.end_of_text_id().has_value());
    CHECK(bytes.encode("hi") == ids_t{104, 105});
    CHECK(bytes.decode(ids_t{104, 105}) == "hi");
    CHECK(bytes.token_bytes(33) == "!");
    CHECK(bytes.as_bytes() != nullptr);
    CHECK(bytes.as_world() == nullptr);
    CHECK_THROWS_AS(bytes.decode(ids_t{256}), rwkv::invalid_argument);

    const any_tokenizer world{world_tokenizer::from_string(escape_vocab, "escapes.txt")};
    CHECK(world.name() == "world");
    CHECK(world.vocab_size() == 31);
    CHECK(world.end_of_text_id() == 0);
    CHECK(world.encode("a b") == ids_t{19});
    ids_t out;
    world.encode("你好", out);
    CHECK(out == ids_t{20});
    std::string text;
    world.decode(ids_t{20, 0, 1}, text);
    CHECK(text == "你好a");
    CHECK(world.token_bytes(11) == "🙂");
    CHECK(world.as_world() != nullptr);
    CHECK_THROWS_AS(world.decode(ids_t{27}), rwkv::invalid_argument);

    if (const world_tokenizer* tok = official_world()) {
        const any_tokenizer official{*tok};
        CHECK(official.encode("Hello world") == ids_t{33155, 40213});
        CHECK(official.vocab_size() == 65530);
    }
}
