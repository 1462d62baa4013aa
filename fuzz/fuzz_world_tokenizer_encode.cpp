// Fuzz target: rwkv::text::world_tokenizer::encode / decode over a fixed small vocabulary.
//
// The vocabulary has every single byte (so any input encodes) plus multi-byte tokens that share
// prefixes, UTF-8 letters, a token that is a prefix of a longer one whose middle is not a token, and
// two ids with the same bytes (the smaller wins). It has a wide trie node (256 children), dense-table
// nodes (7..255 children) and narrow inline nodes.
//
// Oracles: decode(encode(x)) == x for every input; the ids equal a naive greedy longest match
// (the official algorithm, docs/spec/rwkv.md §7.1) computed here independently; encode appends to a
// non-empty vector without touching what is there.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "rwkv/text/world_tokenizer.hpp"

namespace {

struct fixture {
    std::string vocab_text;
    std::map<std::string, std::int32_t> smallest_id;  // token bytes → the smallest id with them
    std::size_t longest = 0;
};

fixture make_fixture() {
    static constexpr char hex[] = "0123456789abcdef";
    fixture f;
    std::int32_t id = 1;
    auto add = [&](const std::string& literal, const std::string& bytes) {
        f.vocab_text += std::to_string(id) + " " + literal + " " + std::to_string(bytes.size()) + "\n";
        f.smallest_id.emplace(bytes, id);  // keeps the first (smallest) id
        f.longest = std::max(f.longest, bytes.size());
        ++id;
    };
    for (int b = 0; b < 256; ++b) {
        std::string lit = "b'\\x";
        lit += hex[b >> 4];
        lit += hex[b & 15];
        lit += "'";
        add(lit, std::string(1, static_cast<char>(b)));
    }
    // Plain ASCII words with shared prefixes; "abcd" without "abc" (greedy must fall back to "ab").
    for (const char* w : {"th", "the", " the", "there", "these", "a", "ab", "abcd", "abcdef", "hello", " world",
                          "  ", "   ", "\\n\\n", "x", "xy", "xyz", "xyzw"}) {
        std::string bytes;
        for (const char* p = w; *p; ++p) {
            if (p[0] == '\\' && p[1] == 'n') {
                bytes += '\n';
                ++p;
            } else {
                bytes += *p;
            }
        }
        add(std::string("'") + w + "'", bytes);
    }
    // UTF-8 tokens (str literals, raw and escaped), and a duplicate of "the" under a larger id.
    add("'\xc3\xa9t\xc3\xa9'", "\xc3\xa9t\xc3\xa9");        // été
    add("'\\u00e9'", "\xc3\xa9");                           // é
    add("'\\u4f60\\u597d'", "\xe4\xbd\xa0\xe5\xa5\xbd");   // 你好
    add("'\\U0001f600'", "\xf0\x9f\x98\x80");              // 😀
    add("'the'", "the");
    // Wide node: "q" followed by every byte; a dense-table node: "z" followed by 20 letters.
    for (int b = 0; b < 256; ++b) {
        std::string lit = "b'q\\x";
        lit += hex[b >> 4];
        lit += hex[b & 15];
        lit += "'";
        add(lit, std::string("q") + static_cast<char>(b));
    }
    for (char c = 'a'; c < 'a' + 20; ++c) add(std::string("'z") + c + "'", std::string("z") + c);
    return f;
}

const fixture& the_fixture() {
    static const fixture f = make_fixture();
    return f;
}

const rwkv::text::world_tokenizer& the_tokenizer() {
    static const auto t = rwkv::text::world_tokenizer::from_string(the_fixture().vocab_text, "fuzz-fixed-vocab");
    return t;
}

// The official algorithm, written the slow and obvious way.
std::vector<std::int32_t> naive_encode(std::string_view s) {
    const fixture& f = the_fixture();
    std::vector<std::int32_t> out;
    std::size_t p = 0;
    while (p < s.size()) {
        std::size_t len = std::min(f.longest, s.size() - p);
        for (;; --len) {
            RWKV_FUZZ_CHECK(len > 0);  // every single byte is a token
            const auto it = f.smallest_id.find(std::string(s.substr(p, len)));
            if (it != f.smallest_id.end()) {
                out.push_back(it->second);
                break;
            }
        }
        p += len;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = rwkv_fuzz::as_text(data, size);
    const auto& tok = the_tokenizer();
    const auto ids = tok.encode(text);  // every byte is a token: must not throw
    RWKV_FUZZ_CHECK(tok.decode(ids) == text);
    RWKV_FUZZ_CHECK(ids == naive_encode(text));

    std::vector<std::int32_t> appended = {7, 8};
    tok.encode(text, appended);
    RWKV_FUZZ_CHECK(appended.size() == ids.size() + 2 && appended[0] == 7 && appended[1] == 8);
    RWKV_FUZZ_CHECK(std::equal(ids.begin(), ids.end(), appended.begin() + 2));

    std::string decoded = "prefix";
    tok.decode(ids, decoded);
    RWKV_FUZZ_CHECK(decoded.size() == 6 + text.size() && decoded.compare(6, std::string::npos, text) == 0);
    return 0;
}
