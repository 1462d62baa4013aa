// rwkv/text/world_tokenizer.hpp — the RWKV "World" tokenizer (docs/spec/rwkv.md §7.1).
//
// Vocabulary: rwkv_vocab_v20230424.txt, one token per line, `<id> <literal> <nbytes>`, where the
// literal is a Python str literal (its UTF-8 encoding is the token) or a bytes literal b'…' (raw
// bytes). The literal may contain spaces, so a line is split at its first and at its last space;
// <nbytes> is checked against the decoded length. CRLF files are accepted (a trailing '\r' is
// stripped), empty lines are skipped. Id 0 is not in the file: it is <|endoftext|>, which decodes
// to "" here.
//
// Encoding is the official greedy longest match over the UTF-8 bytes (no normalisation, no
// pre-splitting, no special tokens): from each position, the longest vocabulary entry that is a
// prefix of the remaining bytes. It walks a breadth-first byte trie (narrow nodes carry their
// children's labels inline, wide ones a 256-entry table), so each emitted token costs about its own
// length in steps. Decoding concatenates the tokens' raw bytes; partial UTF-8 is the caller's
// business (utf8_stream_decoder in utf8.hpp).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/io/read_file.hpp"
#include "rwkv/text/utf8.hpp"

namespace rwkv::text {

namespace detail {

// A short, printable rendering of untrusted text for error messages (one line, at most ~40 bytes
// shown, bytes outside printable ASCII as \xHH).
inline std::string quote_for_message(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "'";
    const std::size_t shown = std::min<std::size_t>(s.size(), 40);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
    }
    if (shown < s.size()) out += "...";
    out += '\'';
    return out;
}

inline int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Parses a non-negative decimal number made only of digits; false if empty, not all digits, or
// larger than `limit`.
inline bool parse_decimal(std::string_view s, std::uint64_t limit, std::uint64_t& value) noexcept {
    if (s.empty()) return false;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (v > limit) return false;
    }
    value = v;
    return true;
}

// Decodes one Python str or bytes literal (with optional b/r/u prefix, single or double quotes) and
// appends the token bytes to out: for a str literal the UTF-8 encoding of its text, for a bytes
// literal its bytes. Returns an empty string on success, otherwise what is wrong.
//
// Escapes: \\ \' \" \a \b \f \n \r \t \v, \ooo (1–3 octal digits), \xHH (exactly two hex digits:
// code point U+00HH in a str, raw byte in bytes), and in str literals only \uHHHH and \UHHHHHHHH.
// Unknown escapes, \N{...}, surrogates and code points above U+10FFFF are rejected (the vocabulary
// files never contain them, so they signal a corrupt file). Raw (r-prefixed) literals keep
// backslashes as they are.
inline std::string decode_python_literal(std::string_view lit, std::string& out) {
    std::size_t i = 0;
    bool is_bytes = false, is_raw = false, is_unicode = false;
    while (i < lit.size() && lit[i] != '\'' && lit[i] != '"') {
        const char c = lit[i];
        if ((c == 'b' || c == 'B') && !is_bytes && !is_unicode) {
            is_bytes = true;
        } else if ((c == 'r' || c == 'R') && !is_raw && !is_unicode) {
            is_raw = true;
        } else if ((c == 'u' || c == 'U') && !is_bytes && !is_raw && !is_unicode) {
            is_unicode = true;
        } else {
            return "expected a quoted Python str or bytes literal, found " + quote_for_message(lit);
        }
        ++i;
    }
    if (i == lit.size()) {
        return "expected a quoted Python str or bytes literal, found " + quote_for_message(lit);
    }
    const char quote = lit[i++];
    const char* kind = is_bytes ? "bytes literal" : "str literal";

    if (is_bytes) {
        for (std::size_t k = i; k < lit.size(); ++k) {
            if (static_cast<unsigned char>(lit[k]) >= 0x80) {
                return std::string("non-ASCII byte in a ") + kind + " (use \\xHH escapes)";
            }
        }
    } else if (!is_valid_utf8(lit.substr(i))) {
        return std::string("the text of the ") + kind + " is not valid UTF-8";
    }

    auto hex_value = [&](std::size_t pos, std::size_t ndigits, std::uint32_t& v) {
        if (pos + ndigits > lit.size()) return false;
        v = 0;
        for (std::size_t k = 0; k < ndigits; ++k) {
            const int d = hex_digit_value(lit[pos + k]);
            if (d < 0) return false;
            v = v * 16 + static_cast<std::uint32_t>(d);
        }
        return true;
    };
    auto add_code_point = [&](std::uint32_t cp) -> std::string {
        if (cp > 0x10FFFF) return "code point above U+10FFFF in a str literal";
        if (cp >= 0xD800 && cp <= 0xDFFF) return "surrogate code point in a str literal (not encodable as UTF-8)";
        append_utf8(out, cp);
        return {};
    };

    while (i < lit.size()) {
        const char c = lit[i];
        if (c == quote) {
            if (i + 1 != lit.size()) {
                return std::string("unexpected text after the closing quote of the ") + kind;
            }
            return {};
        }
        if (c != '\\') {
            out += c;
            ++i;
            continue;
        }
        if (i + 1 >= lit.size()) break;  // a final backslash escapes nothing: unterminated
        const char e = lit[i + 1];
        if (is_raw) {  // r'…': the backslash stays, and it keeps the next character from ending the literal
            out += c;
            out += e;
            i += 2;
            continue;
        }
        i += 2;
        switch (e) {
            case '\\': out += '\\'; continue;
            case '\'': out += '\''; continue;
            case '"': out += '"'; continue;
            case 'a': out += '\a'; continue;
            case 'b': out += '\b'; continue;
            case 'f': out += '\f'; continue;
            case 'n': out += '\n'; continue;
            case 'r': out += '\r'; continue;
            case 't': out += '\t'; continue;
            case 'v': out += '\v'; continue;
            default: break;
        }
        if (e >= '0' && e <= '7') {
            std::uint32_t v = static_cast<std::uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < lit.size() && lit[i] >= '0' && lit[i] <= '7'; ++k, ++i) {
                v = v * 8 + static_cast<std::uint32_t>(lit[i] - '0');
            }
            if (is_bytes) {
                if (v > 0xFF) return "octal escape above \\377 in a bytes literal";
                out += static_cast<char>(static_cast<unsigned char>(v));
            } else if (auto err = add_code_point(v); !err.empty()) {
                return err;
            }
            continue;
        }
        if (e == 'x') {
            std::uint32_t v = 0;
            if (!hex_value(i, 2, v)) {
                return std::string("bad \\x escape in a ") + kind + " (expected exactly 2 hex digits)";
            }
            i += 2;
            if (is_bytes) {
                out += static_cast<char>(static_cast<unsigned char>(v));
            } else {
                append_utf8(out, v);  // \xHH in a str is the code point U+00HH
            }
            continue;
        }
        if ((e == 'u' || e == 'U') && !is_bytes) {
            const std::size_t ndigits = e == 'u' ? 4 : 8;
            std::uint32_t v = 0;
            if (!hex_value(i, ndigits, v)) {
                return std::string("bad \\") + e + " escape in a str literal (expected exactly " +
                       std::to_string(ndigits) + " hex digits)";
            }
            i += ndigits;
            if (auto err = add_code_point(v); !err.empty()) return err;
            continue;
        }
        if (e == 'N' && !is_bytes) return "\\N{...} named escapes are not supported";
        return std::string("unknown escape ") + quote_for_message(std::string{'\\', e}) + " in a " + kind;
    }
    return std::string("unterminated ") + kind + " (no closing " + (quote == '"' ? "\"" : "'") + ")";
}

}  // namespace detail

class world_tokenizer {
public:
    static constexpr std::int32_t end_of_text = 0;
    // Ids in a vocabulary file must be ≤ this (the official file stops at 65529).
    static constexpr std::int32_t max_id = (1 << 24) - 1;

    // Reads a vocabulary file. Unreadable → rwkv::io_error; malformed → rwkv::format_error naming the
    // file, the line number and what is wrong.
    static world_tokenizer from_file(const std::filesystem::path& vocab) {
        const std::string contents = io::read_file(vocab, "World vocabulary");
        return from_string(contents, vocab.string());
    }

    // Parses vocabulary text already in memory; display_name stands for the file in error messages.
    static world_tokenizer from_string(std::string_view contents, std::string display_name) {
        world_tokenizer t;
        t.name_ = std::move(display_name);
        t.parse(contents);
        t.build_trie();
        return t;
    }

    // Greedy longest-match token ids of the bytes of `text` (UTF-8 or any bytes: with the official
    // vocabulary every single byte is a token). A byte that starts no token (possible only with a
    // vocabulary lacking some single-byte tokens) → rwkv::invalid_argument.
    std::vector<std::int32_t> encode(std::string_view text) const {
        std::vector<std::int32_t> out;
        out.reserve(text.size() / 3 + 8);
        encode(text, out);
        return out;
    }

    // Appends the ids to out; allocates nothing beyond out's own growth.
    void encode(std::string_view text, std::vector<std::int32_t>& out) const {
        const auto* s = reinterpret_cast<const unsigned char*>(text.data());
        const std::size_t n = text.size();
        const trie_node* nodes = nodes_.data();
        std::size_t p = 0;
        while (p < n) {
            std::uint32_t node = 0;
            std::int32_t best = -1;
            std::size_t best_len = 0;
            for (std::size_t i = p; i < n; ++i) {
                node = child(nodes[node], s[i]);
                if (node == 0) break;
                if (const std::int32_t t = nodes[node].token; t >= 0) {
                    best = t;
                    best_len = i - p + 1;
                }
            }
            if (best < 0) {
                static constexpr char hex[] = "0123456789abcdef";
                throw invalid_argument("World tokenizer " + name_ + ": byte 0x" + hex[s[p] >> 4] +
                                       hex[s[p] & 0xF] + " at offset " + std::to_string(p) +
                                       " starts no token of the vocabulary");
            }
            out.push_back(best);
            p += best_len;
        }
    }

    // The tokens' bytes concatenated. Id 0 (end of text) decodes to "". An id with no entry
    // (negative, ≥ vocab_size(), or unused) → rwkv::invalid_argument naming the id.
    std::string decode(std::span<const std::int32_t> ids) const {
        std::string out;
        decode(ids, out);
        return out;
    }

    // Appends the tokens' bytes to out (out is unchanged if an id is invalid).
    void decode(std::span<const std::int32_t> ids, std::string& out) const {
        std::size_t total = 0;
        for (std::int32_t id : ids) total += token_bytes(id).size();  // validates every id first
        std::size_t pos = out.size();
        out.resize(pos + total);
        char* dst = out.data();
        const char* src = bytes_.data();
        for (std::int32_t id : ids) {
            const token_span& sp = spans_[static_cast<std::size_t>(id)];  // id 0: length 0
            std::memcpy(dst + pos, src + sp.offset, sp.length);
            pos += sp.length;
        }
    }

    // The bytes of one token; "" for id 0 (end of text); same errors as decode.
    std::string_view token_bytes(std::int32_t id) const {
        if (id == end_of_text) return {};
        if (id < 0 || id >= vocab_size() || spans_[static_cast<std::size_t>(id)].length == 0) {
            throw invalid_argument("World tokenizer " + name_ + ": token id " + std::to_string(id) +
                                   " has no entry (vocabulary size " + std::to_string(vocab_size()) +
                                   ", id 0 = end of text)");
        }
        const token_span& sp = spans_[static_cast<std::size_t>(id)];
        return std::string_view(bytes_).substr(sp.offset, sp.length);
    }

    // Largest id in the file + 1 (65530 for the official vocabulary).
    std::int32_t vocab_size() const noexcept { return static_cast<std::int32_t>(spans_.size()); }

    // True when `id` has bytes (an entry of the file); false for 0, unused and out-of-range ids.
    bool has_token(std::int32_t id) const noexcept {
        return id > 0 && id < vocab_size() && spans_[static_cast<std::size_t>(id)].length != 0;
    }

    // The file name (or from_string's display name) used in messages.
    const std::string& display_name() const noexcept { return name_; }

private:
    struct token_span {
        std::uint32_t offset = 0;
        std::uint32_t length = 0;  // 0: no entry for this id
    };
    // Trie nodes are stored breadth-first, so the children of a node are the consecutive nodes
    // [first_child, first_child + child_count), sorted by the byte on their incoming edge, and the
    // hot top levels of the trie share few cache lines. A child is found by:
    //   ≤ inline_max children: their labels are copied into the node itself (one cache line per step);
    //   256 children:          child = first_child + byte;
    //   otherwise:             a 256-entry table in dense_ (rank of the child among its siblings + 1,
    //                          0 for none), whose block number is stored in `small`.
    // (A linear scan of sorted sibling labels for mid-sized nodes measured slower than the table.)
    static constexpr std::uint32_t inline_max = 6;

    struct trie_node {
        std::int32_t token = -1;          // id of the token ending here, -1 if none
        std::uint32_t first_child = 0;
        std::uint16_t child_count = 0;
        std::uint8_t small[6] = {};       // children's labels, or the dense block number
    };
    static_assert(sizeof(trie_node) == 16);

    // The child of `cur` along byte b, or 0 (the root, nobody's child) if there is none.
    std::uint32_t child(const trie_node& cur, std::uint8_t b) const noexcept {
        const std::uint32_t count = cur.child_count;
        if (count <= inline_max) {
            for (std::uint32_t k = 0; k < count; ++k) {
                if (cur.small[k] == b) return cur.first_child + k;
            }
            return 0;
        }
        if (count == 256) return cur.first_child + b;
        std::uint32_t block = 0;
        std::memcpy(&block, cur.small, sizeof block);
        const std::uint8_t k1 = dense_[std::size_t{block} * 256 + b];
        return k1 != 0 ? cur.first_child + k1 - 1 : 0;
    }

    world_tokenizer() = default;

    [[noreturn]] void fail(std::size_t line, const std::string& what) const {
        throw format_error("World vocabulary " + name_ + ", line " + std::to_string(line) + ": " + what);
    }

    void parse(std::string_view contents) {
        if (contents.substr(0, 3) == "\xEF\xBB\xBF") contents.remove_prefix(3);  // UTF-8 BOM
        std::vector<std::uint32_t> line_of_id;  // 0: id not seen yet
        std::size_t line_no = 0;
        std::size_t pos = 0;
        std::int32_t max_seen = 0;
        while (pos < contents.size()) {
            std::size_t eol = contents.find('\n', pos);
            if (eol == std::string_view::npos) eol = contents.size();
            std::string_view line = contents.substr(pos, eol - pos);
            pos = eol + 1;
            ++line_no;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.empty()) continue;

            const std::size_t first = line.find(' ');
            const std::size_t last = line.rfind(' ');
            if (first == std::string_view::npos || first == last) {
                fail(line_no, "expected '<id> <literal> <nbytes>', found " + detail::quote_for_message(line));
            }
            const std::string_view id_text = line.substr(0, first);
            const std::string_view literal = line.substr(first + 1, last - first - 1);
            const std::string_view nbytes_text = line.substr(last + 1);

            std::uint64_t id = 0;
            if (!detail::parse_decimal(id_text, std::numeric_limits<std::uint64_t>::max() / 16, id)) {
                fail(line_no, "non-numeric id " + detail::quote_for_message(id_text));
            }
            if (id == 0) fail(line_no, "id 0 is reserved for <|endoftext|> and cannot have bytes");
            if (id > static_cast<std::uint64_t>(max_id)) {
                fail(line_no, "id " + std::to_string(id) + " is larger than the supported maximum " +
                                  std::to_string(max_id));
            }
            std::uint64_t nbytes = 0;
            if (!detail::parse_decimal(nbytes_text, std::numeric_limits<std::uint64_t>::max() / 16, nbytes)) {
                fail(line_no, "non-numeric byte count " + detail::quote_for_message(nbytes_text));
            }

            const std::size_t offset = bytes_.size();
            if (std::string err = detail::decode_python_literal(literal, bytes_); !err.empty()) {
                fail(line_no, err);
            }
            const std::size_t length = bytes_.size() - offset;
            if (length == 0) fail(line_no, "empty token");
            if (length != nbytes) {
                fail(line_no, "byte count " + std::to_string(nbytes) + " does not match the literal, which has " +
                                  std::to_string(length) + " bytes");
            }
            if (bytes_.size() > std::numeric_limits<std::uint32_t>::max()) {
                fail(line_no, "vocabulary too large (more than 4 GiB of token bytes)");
            }

            const auto uid = static_cast<std::size_t>(id);
            if (uid >= line_of_id.size()) line_of_id.resize(std::max(uid + 1, line_of_id.size() * 2), 0);
            if (line_of_id[uid] != 0) {
                fail(line_no, "duplicate id " + std::to_string(id) + " (first defined on line " +
                                  std::to_string(line_of_id[uid]) + ")");
            }
            line_of_id[uid] = static_cast<std::uint32_t>(std::min<std::size_t>(
                line_no, std::numeric_limits<std::uint32_t>::max()));
            max_seen = std::max(max_seen, static_cast<std::int32_t>(id));
            if (uid >= spans_.size()) spans_.resize(std::max(uid + 1, spans_.size() * 2));
            spans_[uid] = {static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(length)};
        }
        if (max_seen == 0) {
            throw format_error("World vocabulary " + name_ + ": no tokens (empty file)");
        }
        spans_.resize(static_cast<std::size_t>(max_seen) + 1);
        spans_.shrink_to_fit();
    }

    // Builds the trie from the tokens sorted by their bytes. When two ids have the same bytes, the
    // smaller id is the one encode() emits.
    void build_trie() {
        std::vector<std::int32_t> order;
        order.reserve(spans_.size());
        for (std::int32_t id = 1; id < vocab_size(); ++id) {
            if (spans_[static_cast<std::size_t>(id)].length != 0) order.push_back(id);
        }
        auto bytes_of = [this](std::int32_t id) {
            const token_span& sp = spans_[static_cast<std::size_t>(id)];
            return std::string_view(bytes_).substr(sp.offset, sp.length);
        };
        std::stable_sort(order.begin(), order.end(),
                         [&](std::int32_t a, std::int32_t b) { return bytes_of(a) < bytes_of(b); });

        // Breadth-first: node k stands for the common prefix, of length ranges[k].depth, of the
        // tokens order[ranges[k].lo, ranges[k].hi). Nodes are created in the order they are visited,
        // so the children of one node come out consecutive.
        struct range {
            std::size_t lo, hi, depth;
        };
        std::vector<range> ranges{{0, order.size(), 0}};
        nodes_.assign(1, trie_node{});
        std::vector<std::uint8_t> labels(1, 0);  // by node: the byte on the edge into it
        for (std::size_t k = 0; k < ranges.size(); ++k) {
            const range r = ranges[k];
            std::size_t lo = r.lo;
            // Tokens equal to the prefix sort first; the first of them has the smallest id.
            if (lo < r.hi && bytes_of(order[lo]).size() == r.depth) {
                nodes_[k].token = order[lo];
                while (lo < r.hi && bytes_of(order[lo]).size() == r.depth) ++lo;
            }
            nodes_[k].first_child = static_cast<std::uint32_t>(nodes_.size());
            for (std::size_t a = lo; a < r.hi;) {
                const char label = bytes_of(order[a])[r.depth];
                std::size_t b = a + 1;
                while (b < r.hi && bytes_of(order[b])[r.depth] == label) ++b;
                nodes_.push_back(trie_node{});
                labels.push_back(static_cast<std::uint8_t>(label));
                ranges.push_back({a, b, r.depth + 1});
                a = b;
            }
            nodes_[k].child_count = static_cast<std::uint16_t>(nodes_.size() - nodes_[k].first_child);
        }

        dense_.clear();
        for (trie_node& nd : nodes_) {
            const std::uint32_t count = nd.child_count;
            if (count <= inline_max) {
                for (std::uint32_t k = 0; k < count; ++k) nd.small[k] = labels[nd.first_child + k];
            } else if (count < 256) {
                const auto block = static_cast<std::uint32_t>(dense_.size() / 256);
                std::memcpy(nd.small, &block, sizeof block);
                dense_.resize(dense_.size() + 256, 0);
                for (std::uint32_t k = 0; k < count; ++k) {
                    const std::uint8_t label = labels[nd.first_child + k];
                    dense_[std::size_t{block} * 256 + label] = static_cast<std::uint8_t>(k + 1);
                }
            }
        }
        nodes_.shrink_to_fit();
    }

    std::string name_;
    std::string bytes_;               // every token's bytes, in file order
    std::vector<token_span> spans_;   // by id; size = vocab_size()
    std::vector<trie_node> nodes_;    // breadth-first; node 0 is the root
    std::vector<std::uint8_t> dense_;   // blocks of 256 entries: child's rank among its siblings + 1
};

}  // namespace rwkv::text
