// rwkv/text/bpe_tokenizer.hpp — the GPT-NeoX 20B byte-level BPE tokenizer of the RWKV-4 Pile/Raven
// models, read from a Hugging Face `tokenizer.json` (docs/spec/rwkv.md §7.2).
//
// Supported configuration (exactly what 20B_tokenizer.json uses; anything else is rejected with
// rwkv::unsupported_error naming the field): model.type "BPE" with a vocab map and merges written
// as "left right" strings or as ["left", "right"] pairs, no dropout, no unk_token, no subword
// prefix/suffix, no byte_fallback or ignore_merges; normalizer NFC or null; pre_tokenizer ByteLevel
// with add_prefix_space false (and the default use_regex); decoder ByteLevel; post_processor
// ByteLevel or null (it only adjusts offsets); no truncation or padding; added_tokens with the
// special and normalized flags (single_word, lstrip and rstrip must be false).
//
// Encoding, as HF tokenizers does it (§7.2 "Encoding algorithm"):
//  1. split the raw text on the added tokens with normalized=false (the special tokens
//     <|endoftext|> and <|padding|>), leftmost-longest; each match is its id;
//  2. NFC-normalise each remaining piece and split it on the added tokens with normalized=true (the
//     runs of 2..24 spaces), leftmost-longest;
//  3. split what remains with the GPT-2 regex
//       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//     implemented by a hand-written scanner with the regex's leftmost-first semantics (classes
//     from unicode.hpp: \s is White_Space, as in the Oniguruma engine HF uses);
//  4. map each byte of a piece to its GPT-2 bytes_to_unicode symbol and look the symbol up in the
//     vocab (a byte whose symbol is not in the vocab is dropped, as HF's BPE does without an
//     unk_token; the 20B vocab has all 256);
//  5. BPE: repeatedly merge the adjacent pair with the lowest merge rank, the leftmost on ties
//     (HF's heap order (rank, position)), until no adjacent pair is in the merge list. If a pair
//     appears twice in the merge list the later rank counts (HF builds its merge map that way).
// No BOS/EOS is added. Encoding reads only immutable tables: encode() is const and may be called
// from several threads at once.
//
// Decoding maps each id to its token string, drops special tokens (HF skip_special_tokens=True) and
// reverses the byte mapping of every token whose characters all come from the byte table; a token
// with other characters (the space-run added tokens) contributes its UTF-8 text as it is, as HF's
// ByteLevel decoder does. The result is raw bytes, possibly cut inside a character: callers that
// print while generating use utf8_stream_decoder (utf8.hpp).
//
// Needs utf8proc: link with -lutf8proc (Debian libutf8proc-dev).
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"
#include "rwkv/io/read_file.hpp"
#include "rwkv/text/unicode.hpp"
#include "rwkv/text/utf8.hpp"

namespace rwkv::text {

namespace detail {

// GPT-2's bytes_to_unicode: bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves (as
// code points); the other 68 bytes, in increasing order, stand for U+0100, U+0101, … U+0143.
struct byte_level_map {
    std::array<std::uint16_t, 256> byte_to_code_point{};
    std::array<std::int16_t, 324> code_point_to_byte{};  // -1: not the image of any byte
};

constexpr byte_level_map make_byte_level_map() noexcept {
    byte_level_map m{};
    for (auto& b : m.code_point_to_byte) b = -1;
    std::uint16_t next = 256;
    for (std::uint16_t b = 0; b < 256; ++b) {
        const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        const std::uint16_t cp = printable ? b : next++;
        m.byte_to_code_point[b] = cp;
        m.code_point_to_byte[cp] = static_cast<std::int16_t>(b);
    }
    return m;
}

inline constexpr byte_level_map byte_level = make_byte_level_map();

// The UTF-8 text of the symbol that stands for byte b.
inline std::string byte_level_symbol(unsigned char b) {
    std::string s;
    append_utf8(s, byte_level.byte_to_code_point[b]);
    return s;
}

// The bytes a token string stands for: the byte of each character when every character is in the
// byte table, otherwise the token's own UTF-8 text (HF ByteLevel decoder). `token` is valid UTF-8.
inline std::string byte_level_decode(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    const auto* s = reinterpret_cast<const unsigned char*>(token.data());
    for (std::size_t i = 0; i < token.size();) {
        std::size_t len = 0;
        const std::uint32_t cp = unicode::decode_valid_utf8(s + i, len);
        if (cp >= byte_level.code_point_to_byte.size() || byte_level.code_point_to_byte[cp] < 0) {
            return std::string(token);
        }
        out += static_cast<char>(static_cast<unsigned char>(byte_level.code_point_to_byte[cp]));
        i += len;
    }
    return out;
}

// Open-addressing hash map from a pair of token ids to (merge rank, id of the merged token).
class bpe_merge_table {
public:
    static constexpr std::int32_t no_rank = std::numeric_limits<std::int32_t>::max();

    struct entry {
        std::int32_t rank = no_rank;
        std::int32_t id = -1;
    };

    // Sizes the table for `count` pairs (load factor ≤ 1/2); drops previous contents.
    void reset(std::size_t count) {
        std::size_t capacity = 16;
        unsigned bits = 4;
        while (capacity < 2 * count) {
            capacity *= 2;
            ++bits;
        }
        slots_.assign(capacity, slot{});
        mask_ = capacity - 1;
        shift_ = 64 - bits;
    }

    // Inserts the pair, or replaces its rank and id if it is already there. Ids are < 2^31.
    void insert(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t id) noexcept {
        const std::uint64_t k = key(left, right);
        for (std::size_t i = home(k);; i = (i + 1) & mask_) {
            if (slots_[i].key == empty_key || slots_[i].key == k) {
                slots_[i] = slot{k, rank, id};
                return;
            }
        }
    }

    // The pair's rank and merged id; {no_rank, -1} when the pair is not a merge.
    entry find(std::int32_t left, std::int32_t right) const noexcept {
        const std::uint64_t k = key(left, right);
        for (std::size_t i = home(k);; i = (i + 1) & mask_) {
            const slot& s = slots_[i];
            if (s.key == k) return {s.rank, s.id};
            if (s.key == empty_key) return {};
        }
    }

private:
    static constexpr std::uint64_t empty_key = ~std::uint64_t{0};

    struct slot {
        std::uint64_t key = empty_key;
        std::int32_t rank = no_rank;
        std::int32_t id = -1;
    };

    static std::uint64_t key(std::int32_t left, std::int32_t right) noexcept {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
               static_cast<std::uint32_t>(right);
    }

    std::size_t home(std::uint64_t k) const noexcept {
        return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ULL) >> shift_) & mask_;
    }

    std::vector<slot> slots_ = std::vector<slot>(16);
    std::size_t mask_ = 15;
    unsigned shift_ = 60;
};

// Leftmost-longest matching of a set of byte strings (the added tokens), with a byte trie.
class added_token_matcher {
public:
    struct match {
        std::size_t pos = std::string_view::npos;  // npos: no match
        std::size_t length = 0;
        std::int32_t id = -1;
    };

    // Adds a non-empty pattern; false if the same pattern is already there.
    bool add(std::string_view pattern, std::int32_t id) {
        std::uint32_t node = 0;
        for (char ch : pattern) {
            const auto c = static_cast<unsigned char>(ch);
            std::uint32_t next = 0;
            for (const auto& [label, child] : nodes_[node].children) {
                if (label == c) next = child;
            }
            if (next == 0) {
                next = static_cast<std::uint32_t>(nodes_.size());
                nodes_[node].children.emplace_back(c, next);
                nodes_.emplace_back();
            }
            node = next;
        }
        if (nodes_[node].id >= 0) return false;
        nodes_[node].id = id;
        first_[static_cast<unsigned char>(pattern.front())] = true;
        empty_ = false;
        return true;
    }

    bool empty() const noexcept { return empty_; }

    // The leftmost position ≥ from where a pattern starts, with the longest pattern there.
    match find(std::string_view text, std::size_t from) const noexcept {
        if (empty_) return {};
        const auto* s = reinterpret_cast<const unsigned char*>(text.data());
        const std::size_t n = text.size();
        for (std::size_t p = from; p < n; ++p) {
            if (!first_[s[p]]) continue;
            std::uint32_t node = 0;
            match best{};
            for (std::size_t i = p; i < n; ++i) {
                std::uint32_t next = 0;
                for (const auto& [label, child] : nodes_[node].children) {
                    if (label == s[i]) {
                        next = child;
                        break;
                    }
                }
                if (next == 0) break;
                node = next;
                if (nodes_[node].id >= 0) best = match{p, i - p + 1, nodes_[node].id};
            }
            if (best.pos != std::string_view::npos) return best;
        }
        return {};
    }

private:
    struct node_t {
        std::int32_t id = -1;
        std::vector<std::pair<unsigned char, std::uint32_t>> children;
    };
    std::vector<node_t> nodes_ = std::vector<node_t>(1);  // node 0 is the root
    std::array<bool, 256> first_{};                         // bytes that start some pattern
    bool empty_ = true;
};

struct class_and_length {
    unicode::regex_class cls;
    std::size_t length;
};

// The regex class of the character at s[p] of valid UTF-8 text, and its length in bytes.
inline class_and_length class_at(const unsigned char* s, std::size_t p) noexcept {
    if (s[p] < 0x80) return {unicode::detail::ascii_classes[s[p]], 1};
    std::size_t len = 0;
    const std::uint32_t cp = unicode::decode_valid_utf8(s + p, len);
    return {unicode::classify(cp), len};
}

// The end of the match of the GPT-2 split regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// that starts at p < n in the valid UTF-8 text s[0, n). The alternatives are tried in order
// (leftmost-first), and one of them always matches at least one character, so successive calls
// from each returned end split the whole text.
inline std::size_t gpt2_piece_end(const unsigned char* s, std::size_t n, std::size_t p) noexcept {
    using unicode::regex_class;
    const unsigned char c = s[p];
    if (c == '\'' && p + 1 < n) {  // the contractions, case-sensitive
        const unsigned char c1 = s[p + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return p + 2;
        if (p + 2 < n) {
            const unsigned char c2 = s[p + 2];
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return p + 3;
        }
    }
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional U+0020, then a run of one class.
    // The three classes are disjoint, so the first character after the optional space decides.
    const std::size_t q = c == ' ' ? p + 1 : p;
    if (q < n) {
        const class_and_length first = class_at(s, q);
        if (first.cls != regex_class::space) {
            std::size_t e = q + first.length;
            while (e < n) {
                const class_and_length next = class_at(s, e);
                if (next.cls != first.cls) break;
                e += next.length;
            }
            return e;
        }
    }
    // Here s[p] is white space. `\s+(?!\S)`: the whole run if it ends the text, else the run minus
    // its last character (which is then followed by white space) when that leaves at least one;
    // otherwise `\s+` takes the single-character run.
    std::size_t e = p;
    std::size_t last = p;
    std::size_t count = 0;
    while (e < n) {
        const class_and_length next = class_at(s, e);
        if (next.cls != regex_class::space) break;
        last = e;
        e += next.length;
        ++count;
    }
    if (e == n || count == 1) return e;
    return last;
}

// A symbol of a piece being merged, with the pair it starts (rank and merged id).
struct bpe_slot {
    std::int32_t symbol;
    std::int32_t rank;
    std::int32_t merged;
};

// Per-call working memory of bpe_tokenizer::encode (never shared between calls).
struct bpe_scratch {
    std::vector<bpe_slot> slots;
    std::string normalized;
    std::vector<std::int32_t> symbols;
    std::vector<std::int32_t> ranks;
    std::vector<std::int32_t> merged;
    std::vector<std::int32_t> prev;
    std::vector<std::int32_t> next;
    std::vector<std::uint64_t> heap;
};

}  // namespace detail

class bpe_tokenizer {
public:
    // Token ids in the file must be ≤ this.
    static constexpr std::int32_t max_id = (1 << 24) - 1;
    // Longest text encode() accepts in one call (symbol positions are 32-bit).
    static constexpr std::size_t max_text_bytes = std::size_t{1} << 31;

    // Reads a tokenizer.json. Unreadable → rwkv::io_error; malformed → rwkv::format_error naming
    // the file and the JSON path of the problem; a configuration other than the one described at
    // the top of this file → rwkv::unsupported_error naming the field.
    static bpe_tokenizer from_file(const std::filesystem::path& tokenizer_json) {
        const std::string contents = io::read_file(tokenizer_json, "BPE tokenizer");
        return from_string(contents, tokenizer_json.string());
    }

    // Parses tokenizer.json text already in memory; display_name stands for the file in messages.
    static bpe_tokenizer from_string(std::string_view json, std::string display_name) {
        bpe_tokenizer t;
        t.name_ = std::move(display_name);
        nlohmann::json root;
        try {
            root = nlohmann::json::parse(json.begin(), json.end());
        } catch (const nlohmann::json::exception& e) {
            throw format_error("BPE tokenizer " + t.name_ + ": malformed JSON: " + e.what());
        }
        t.load(root);
        return t;
    }

    // The token ids of `utf8`. Text that is not well-formed UTF-8 → rwkv::invalid_argument naming
    // the byte offset of the first bad byte.
    std::vector<std::int32_t> encode(std::string_view utf8) const {
        std::vector<std::int32_t> out;
        out.reserve(utf8.size() / 4 + 8);
        encode(utf8, out);
        return out;
    }

    // Appends the ids of `text` to out (out is unchanged if the text is not valid UTF-8).
    void encode(std::string_view text, std::vector<std::int32_t>& out) const {
        if (text.size() > max_text_bytes) {
            throw invalid_argument("BPE tokenizer " + name_ + ": the text is longer than 2 GiB (" +
                                   std::to_string(text.size()) + " bytes); encode it in parts");
        }
        if (const std::size_t bad = unicode::invalid_utf8_offset(text); bad != std::string_view::npos) {
            throw invalid_argument("BPE tokenizer " + name_ + ": the text is not valid UTF-8 at byte offset " +
                                   std::to_string(bad));
        }
        detail::bpe_scratch scratch;
        std::size_t pos = 0;
        while (pos < text.size()) {
            const auto m = raw_added_.find(text, pos);
            const std::size_t end = m.pos == std::string_view::npos ? text.size() : m.pos;
            if (end > pos) encode_normalizable(text.substr(pos, end - pos), out, scratch);
            if (m.pos == std::string_view::npos) break;
            out.push_back(m.id);
            pos = m.pos + m.length;
        }
    }

    // The bytes of the ids, concatenated, with special tokens skipped. An id with no entry
    // (negative, ≥ vocab_size(), or unused) → rwkv::invalid_argument.
    std::string decode(std::span<const std::int32_t> ids) const {
        std::string out;
        decode(ids, out);
        return out;
    }

    // Appends the bytes of the ids to out (out is unchanged if an id is invalid).
    void decode(std::span<const std::int32_t> ids, std::string& out) const {
        std::size_t total = 0;
        for (std::int32_t id : ids) total += token_bytes(id).size();  // validates every id first
        out.reserve(out.size() + total);
        for (std::int32_t id : ids) {
            const token_entry& e = entries_[static_cast<std::size_t>(id)];
            out.append(bytes_, e.offset, e.length);
        }
    }

    // The raw bytes of one token; "" for a special token. Same errors as decode.
    std::string_view token_bytes(std::int32_t id) const {
        if (!has_token(id)) {
            throw invalid_argument("BPE tokenizer " + name_ + ": token id " + std::to_string(id) +
                                   " has no entry (vocabulary size " + std::to_string(vocab_size()) + ")");
        }
        const token_entry& e = entries_[static_cast<std::size_t>(id)];
        return std::string_view(bytes_).substr(e.offset, e.length);
    }

    // Largest id in model.vocab and added_tokens + 1 (50277 for 20B_tokenizer.json).
    std::int32_t vocab_size() const noexcept { return static_cast<std::int32_t>(entries_.size()); }

    // True when `id` is a token of the vocab or of added_tokens.
    bool has_token(std::int32_t id) const noexcept {
        return id >= 0 && id < vocab_size() && entries_[static_cast<std::size_t>(id)].kind != token_kind::none;
    }

    // True for the added tokens marked special (skipped by decode).
    bool is_special(std::int32_t id) const noexcept {
        return id >= 0 && id < vocab_size() && entries_[static_cast<std::size_t>(id)].kind == token_kind::special;
    }

    // The id of "<|endoftext|>" (an added token, else a vocab entry), if the file has it.
    std::optional<std::int32_t> end_of_text_id() const noexcept { return end_of_text_; }

    // The file name (or from_string's display name) used in messages.
    const std::string& display_name() const noexcept { return name_; }

private:
    enum class token_kind : std::uint8_t { none, normal, special };

    struct token_entry {
        std::uint32_t offset = 0;
        std::uint32_t length = 0;
        token_kind kind = token_kind::none;
    };

    using json = nlohmann::json;

    // Pieces of small symbol counts are merged by rescanning an array; longer ones with a heap.
    static constexpr std::size_t linear_bpe_limit = 64;

    // ---- encoding ------------------------------------------------------------------------------

    // Steps 2–5 for a piece of input between raw-matched added tokens.
    void encode_normalizable(std::string_view piece, std::vector<std::int32_t>& out,
                             detail::bpe_scratch& scratch) const {
        std::string_view text = piece;
        if (nfc_ && !unicode::is_trivially_nfc(piece)) {
            scratch.normalized.clear();
            unicode::append_nfc(piece, scratch.normalized);
            text = scratch.normalized;
        }
        std::size_t pos = 0;
        while (pos < text.size()) {
            const auto m = normalized_added_.find(text, pos);
            const std::size_t end = m.pos == std::string_view::npos ? text.size() : m.pos;
            if (end > pos) encode_pretokenized(text.substr(pos, end - pos), out, scratch);
            if (m.pos == std::string_view::npos) break;
            out.push_back(m.id);
            pos = m.pos + m.length;
        }
    }

    // Steps 3–5: the regex split, then BPE of each piece.
    void encode_pretokenized(std::string_view text, std::vector<std::int32_t>& out,
                             detail::bpe_scratch& scratch) const {
        const auto* s = reinterpret_cast<const unsigned char*>(text.data());
        const std::size_t n = text.size();
        for (std::size_t p = 0; p < n;) {
            const std::size_t e = detail::gpt2_piece_end(s, n, p);
            bpe(s + p, e - p, out, scratch);
            p = e;
        }
    }

    // Steps 4–5 for one regex piece.
    void bpe(const unsigned char* piece, std::size_t length, std::vector<std::int32_t>& out,
             detail::bpe_scratch& scratch) const {
        std::vector<std::int32_t>& sym = scratch.symbols;
        sym.clear();
        for (std::size_t i = 0; i < length; ++i) {
            const std::int32_t id = byte_ids_[piece[i]];
            if (id >= 0) sym.push_back(id);
        }
        if (sym.size() <= 1) {
            out.insert(out.end(), sym.begin(), sym.end());
            return;
        }
        if (sym.size() <= linear_bpe_limit) {
            bpe_linear(out, scratch);
        } else {
            bpe_heap(out, scratch);
        }
    }

    // Merges scratch.symbols by rescanning the ranks of the adjacent pairs for their minimum.
    void bpe_linear(std::vector<std::int32_t>& out, detail::bpe_scratch& scratch) const {
        std::size_t n = scratch.symbols.size();
        scratch.slots.resize(n);
        detail::bpe_slot* v = scratch.slots.data();  // v[i].rank, .merged: pair (i, i + 1)
        for (std::size_t i = 0; i < n; ++i) v[i].symbol = scratch.symbols[i];
        for (std::size_t i = 0; i + 1 < n; ++i) rank_slot(v, i);
        v[n - 1].rank = detail::bpe_merge_table::no_rank;
        while (n > 1) {
            std::size_t best = 0;
            for (std::size_t i = 1; i + 1 < n; ++i) {
                if (v[i].rank < v[best].rank) best = i;
            }
            if (v[best].rank == detail::bpe_merge_table::no_rank) break;
            // Symbol best becomes the merged token; symbol best + 1 goes, and with it its pair.
            v[best].symbol = v[best].merged;
            std::copy(v + best + 2, v + n, v + best + 1);
            --n;
            if (best + 1 < n) {
                rank_slot(v, best);
            } else {
                v[best].rank = detail::bpe_merge_table::no_rank;
            }
            if (best > 0) rank_slot(v, best - 1);
        }
        for (std::size_t i = 0; i < n; ++i) out.push_back(v[i].symbol);
    }

    // Looks up the pair (v[i].symbol, v[i + 1].symbol).
    void rank_slot(detail::bpe_slot* v, std::size_t i) const noexcept {
        const auto m = merges_.find(v[i].symbol, v[i + 1].symbol);
        v[i].rank = m.rank;
        v[i].merged = m.id;
    }

    // The same merge order with a min-heap of (rank, position) over a linked list of symbols;
    // entries whose pair has changed since they were pushed are skipped when popped.
    void bpe_heap(std::vector<std::int32_t>& out, detail::bpe_scratch& scratch) const {
        constexpr std::int32_t no_rank = detail::bpe_merge_table::no_rank;
        std::vector<std::int32_t>& sym = scratch.symbols;
        const std::size_t n = sym.size();
        std::vector<std::int32_t>& rank = scratch.ranks;
        std::vector<std::int32_t>& merged = scratch.merged;
        std::vector<std::int32_t>& prev = scratch.prev;
        std::vector<std::int32_t>& next = scratch.next;
        std::vector<std::uint64_t>& heap = scratch.heap;
        rank.assign(n, no_rank);  // rank[i]: pair (i, next[i]); no_rank if none or i is gone
        merged.assign(n, -1);
        prev.resize(n);
        next.resize(n);
        heap.clear();
        const auto push = [&](std::size_t pos) {
            heap.push_back((static_cast<std::uint64_t>(rank[pos]) << 32) | pos);
            std::push_heap(heap.begin(), heap.end(), std::greater<>{});
        };
        const auto rank_pair = [&](std::size_t pos, std::size_t right) {
            const auto m = merges_.find(sym[pos], sym[right]);
            rank[pos] = m.rank;
            merged[pos] = m.id;
            if (m.rank != no_rank) push(pos);
        };
        for (std::size_t i = 0; i < n; ++i) {
            prev[i] = static_cast<std::int32_t>(i) - 1;
            next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
        }
        for (std::size_t i = 0; i + 1 < n; ++i) rank_pair(i, i + 1);
        while (!heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
            const std::uint64_t top = heap.back();
            heap.pop_back();
            const auto pos = static_cast<std::size_t>(top & 0xFFFFFFFFu);
            if (static_cast<std::uint64_t>(rank[pos]) != (top >> 32)) continue;  // stale entry
            const auto right = static_cast<std::size_t>(next[pos]);
            sym[pos] = merged[pos];
            rank[right] = no_rank;
            const std::int32_t after = next[right];
            next[pos] = after;
            if (after >= 0) {
                prev[static_cast<std::size_t>(after)] = static_cast<std::int32_t>(pos);
                rank_pair(pos, static_cast<std::size_t>(after));
            } else {
                rank[pos] = no_rank;
            }
            if (prev[pos] >= 0) rank_pair(static_cast<std::size_t>(prev[pos]), pos);
        }
        for (std::int32_t i = 0; i >= 0; i = next[static_cast<std::size_t>(i)]) {
            out.push_back(sym[static_cast<std::size_t>(i)]);
        }
    }

    // ---- loading -------------------------------------------------------------------------------

    [[noreturn]] void fail(const std::string& path, const std::string& what) const {
        throw format_error("BPE tokenizer " + name_ + ": " + path + ": " + what);
    }

    [[noreturn]] void unsupported(const std::string& path, const std::string& what) const {
        throw unsupported_error("BPE tokenizer " + name_ + ": " + path + ": " + what);
    }

    [[noreturn]] void wrong_type(const std::string& path, const char* expected, const json& found) const {
        fail(path, std::string("expected ") + expected + ", found " + found.type_name());
    }

    // A JSON string literal for messages: at most ~40 bytes of s, escaped, valid UTF-8.
    static std::string quoted(std::string_view s) {
        const bool cut = s.size() > 40;
        const json j = std::string(s.substr(0, cut ? 40 : s.size()));
        std::string q = j.dump(-1, ' ', true, json::error_handler_t::replace);
        if (cut) q.insert(q.size() - 1, "...");
        return q;
    }

    // obj[key], or nullptr when the key is absent or its value is null.
    static const json* member(const json& obj, const char* key) {
        const auto it = obj.find(key);
        return it == obj.end() || it->is_null() ? nullptr : &*it;
    }

    // obj[key] when it is a boolean, `fallback` when absent or null; anything else fails.
    bool optional_bool(const json& obj, const char* key, bool fallback, const std::string& path) const {
        const json* v = member(obj, key);
        if (v == nullptr) return fallback;
        if (!v->is_boolean()) wrong_type(path + "." + key, "true or false", *v);
        return v->get<bool>();
    }

    // The token id v (an integer 0..max_id), or a failure naming path.
    std::int32_t id_value(const json& v, const std::string& path) const {
        if (!v.is_number_integer()) wrong_type(path, "a token id", v);
        if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(max_id)) {
            return static_cast<std::int32_t>(v.get<std::uint64_t>());
        }
        fail(path, "token id " + v.dump() + " is outside 0.." + std::to_string(max_id));
    }

    // The "type" string of a component object (model, normalizer, pre_tokenizer, …).
    std::string component_type(const json& v, const std::string& path) const {
        if (!v.is_object()) wrong_type(path, "an object", v);
        const json* type = member(v, "type");
        if (type == nullptr) fail(path + ".type", "missing");
        if (!type->is_string()) wrong_type(path + ".type", "a string", *type);
        return type->get<std::string>();
    }

    // Fails unless root[key] is absent/null (when null_ok) or a component of type `expected`.
    void require_component(const json& root, const char* key, const char* expected, bool null_ok) const {
        const json* v = member(root, key);
        if (v == nullptr) {
            if (null_ok) return;
            unsupported(key, std::string("missing or null (only \"") + expected + "\" is supported)");
        }
        const std::string type = component_type(*v, key);
        if (type != expected) {
            unsupported(std::string(key) + ".type", quoted(type) + " is not supported (only \"" + expected + "\"" +
                                                        (null_ok ? " or null)" : ")"));
        }
    }

    // Checks every part of the configuration except the vocab, merges and added tokens.
    void check_configuration(const json& root) {
        // The model first: a tokenizer of another kind is reported by its model type.
        const json* model = member(root, "model");
        if (model == nullptr) fail("model", "missing");
        const std::string model_type = component_type(*model, "model");
        if (model_type != "BPE") unsupported("model.type", quoted(model_type) + " is not supported (only \"BPE\")");
        for (const char* key : {"dropout", "unk_token"}) {
            if (member(*model, key) != nullptr) unsupported(std::string("model.") + key, "must be null");
        }
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
            const json* v = member(*model, key);
            if (v != nullptr && !(v->is_string() && v->get_ref<const std::string&>().empty())) {
                unsupported(std::string("model.") + key, "must be null or empty");
            }
        }
        for (const char* key : {"byte_fallback", "ignore_merges"}) {
            if (optional_bool(*model, key, false, "model")) {
                unsupported(std::string("model.") + key, "true is not supported");
            }
        }
        optional_bool(*model, "fuse_unk", false, "model");

        for (const char* key : {"truncation", "padding"}) {
            if (member(root, key) != nullptr) unsupported(key, "must be null (not supported)");
        }

        require_component(root, "normalizer", "NFC", true);
        nfc_ = member(root, "normalizer") != nullptr;

        require_component(root, "pre_tokenizer", "ByteLevel", false);
        const json& pre = root.at("pre_tokenizer");
        if (!pre.contains("add_prefix_space")) fail("pre_tokenizer.add_prefix_space", "missing");
        if (optional_bool(pre, "add_prefix_space", false, "pre_tokenizer")) {
            unsupported("pre_tokenizer.add_prefix_space", "true is not supported (only false)");
        }
        if (!optional_bool(pre, "use_regex", true, "pre_tokenizer")) {
            unsupported("pre_tokenizer.use_regex", "false is not supported (only the GPT-2 regex)");
        }
        optional_bool(pre, "trim_offsets", true, "pre_tokenizer");

        require_component(root, "post_processor", "ByteLevel", true);  // it only adjusts offsets
        require_component(root, "decoder", "ByteLevel", false);
    }

    struct added_token {
        std::int32_t id;
        std::string content;
        bool special;
        bool normalized;
    };

    // Reads added_tokens and checks them against the vocab (strings: token string by id).
    std::vector<added_token> read_added_tokens(const json& root,
                                               const std::unordered_map<std::string_view, std::int32_t>& vocab,
                                               const std::vector<std::string_view>& strings) const {
        std::vector<added_token> result;
        const json* list = member(root, "added_tokens");
        if (list == nullptr) return result;
        if (!list->is_array()) wrong_type("added_tokens", "an array", *list);
        for (std::size_t i = 0; i < list->size(); ++i) {
            const json& a = (*list)[i];
            const std::string path = "added_tokens[" + std::to_string(i) + "]";
            if (!a.is_object()) wrong_type(path, "an object", a);
            const json* id_json = member(a, "id");
            if (id_json == nullptr) fail(path + ".id", "missing");
            const std::int32_t id = id_value(*id_json, path + ".id");
            const json* content_json = member(a, "content");
            if (content_json == nullptr) fail(path + ".content", "missing");
            if (!content_json->is_string()) wrong_type(path + ".content", "a string", *content_json);
            const std::string& content = content_json->get_ref<const std::string&>();
            if (content.empty()) fail(path + ".content", "empty");
            const bool special = optional_bool(a, "special", false, path);
            const bool normalized = optional_bool(a, "normalized", !special, path);
            for (const char* key : {"single_word", "lstrip", "rstrip"}) {
                if (optional_bool(a, key, false, path)) unsupported(path + "." + key, "true is not supported");
            }
            if (const auto v = vocab.find(content); v != vocab.end() && v->second != id) {
                fail(path, "the token " + quoted(content) + " has id " + std::to_string(id) + " here but id " +
                               std::to_string(v->second) + " in model.vocab");
            }
            const auto uid = static_cast<std::size_t>(id);
            if (uid < strings.size() && !strings[uid].empty() && strings[uid] != content) {
                fail(path + ".id",
                     "id " + std::to_string(id) + " is the id of " + quoted(strings[uid]) + " in model.vocab");
            }
            for (const added_token& other : result) {
                if (other.id == id) fail(path + ".id", "id " + std::to_string(id) + " appears twice in added_tokens");
                if (other.content == content) {
                    fail(path + ".content", quoted(content) + " appears twice in added_tokens");
                }
            }
            result.push_back({id, content, special, normalized});
        }
        return result;
    }

    void load(const json& root) {
        if (!root.is_object()) wrong_type("(top level)", "a JSON object", root);
        check_configuration(root);
        const json& model = root.at("model");

        const json* vocab_json = member(model, "vocab");
        if (vocab_json == nullptr) fail("model.vocab", "missing");
        if (!vocab_json->is_object()) wrong_type("model.vocab", "an object", *vocab_json);
        const json* merges_json = member(model, "merges");
        if (merges_json == nullptr) fail("model.merges", "missing");
        if (!merges_json->is_array()) wrong_type("model.merges", "an array", *merges_json);

        // vocab: token string → id, and the token string of each id ("" for none). The views refer
        // to the strings stored inside root.
        std::unordered_map<std::string_view, std::int32_t> vocab;
        vocab.reserve(vocab_json->size());
        std::vector<std::string_view> strings;
        for (auto it = vocab_json->begin(); it != vocab_json->end(); ++it) {
            const std::string& key = it.key();
            const std::string path = "model.vocab[" + quoted(key) + "]";
            if (key.empty()) fail(path, "empty token string");
            const std::int32_t id = id_value(*it, path);
            const auto uid = static_cast<std::size_t>(id);
            if (uid >= strings.size()) strings.resize(uid + 1);
            if (!strings[uid].empty()) {
                fail(path, "id " + std::to_string(id) + " is also the id of " + quoted(strings[uid]));
            }
            strings[uid] = key;
            vocab.emplace(strings[uid], id);
        }

        // merges: (left id, right id) → (rank = position in the list, merged id).
        merges_.reset(merges_json->size());
        std::string joined;
        for (std::size_t i = 0; i < merges_json->size(); ++i) {
            const json& m = (*merges_json)[i];
            const std::string path = "model.merges[" + std::to_string(i) + "]";
            std::string_view left, right;
            if (m.is_string()) {
                const std::string_view s = m.get_ref<const std::string&>();
                const std::size_t space = s.find(' ');
                if (space == std::string_view::npos || s.find(' ', space + 1) != std::string_view::npos) {
                    fail(path, "expected two tokens separated by one space, found " + quoted(s));
                }
                left = s.substr(0, space);
                right = s.substr(space + 1);
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                left = m[0].get_ref<const std::string&>();
                right = m[1].get_ref<const std::string&>();
            } else {
                wrong_type(path, "\"left right\" or [\"left\", \"right\"]", m);
            }
            const auto l = vocab.find(left);
            if (l == vocab.end()) fail(path, "the token " + quoted(left) + " is not in model.vocab");
            const auto r = vocab.find(right);
            if (r == vocab.end()) fail(path, "the token " + quoted(right) + " is not in model.vocab");
            joined.assign(left);
            joined.append(right);
            const auto j = vocab.find(joined);
            if (j == vocab.end()) fail(path, "the merged token " + quoted(joined) + " is not in model.vocab");
            if (i >= static_cast<std::size_t>(detail::bpe_merge_table::no_rank)) fail(path, "too many merges");
            merges_.insert(l->second, r->second, static_cast<std::int32_t>(i), j->second);
        }

        for (std::size_t b = 0; b < 256; ++b) {
            const auto it = vocab.find(detail::byte_level_symbol(static_cast<unsigned char>(b)));
            byte_ids_[b] = it == vocab.end() ? -1 : it->second;
        }

        const std::vector<added_token> added = read_added_tokens(root, vocab, strings);

        // The bytes of every token, by id.
        std::size_t size = strings.size();
        for (const added_token& a : added) size = std::max(size, static_cast<std::size_t>(a.id) + 1);
        entries_.assign(size, token_entry{});
        const auto set_entry = [&](std::int32_t id, std::string_view token, token_kind kind) {
            token_entry& e = entries_[static_cast<std::size_t>(id)];
            e = token_entry{0, 0, kind};
            if (kind == token_kind::special) return;
            const std::string b = detail::byte_level_decode(token);
            if (bytes_.size() + b.size() > std::numeric_limits<std::uint32_t>::max()) fail("model.vocab", "too large");
            e.offset = static_cast<std::uint32_t>(bytes_.size());
            e.length = static_cast<std::uint32_t>(b.size());
            bytes_ += b;
        };
        for (std::size_t id = 0; id < strings.size(); ++id) {
            if (!strings[id].empty()) set_entry(static_cast<std::int32_t>(id), strings[id], token_kind::normal);
        }
        for (const added_token& a : added) {
            if (a.special) {
                set_entry(a.id, a.content, token_kind::special);
            } else if (entries_[static_cast<std::size_t>(a.id)].kind == token_kind::none) {
                set_entry(a.id, a.content, token_kind::normal);
            }
        }
        bytes_.shrink_to_fit();

        // The matchers: normalized=false tokens match the raw text, the others the NFC text.
        for (std::size_t i = 0; i < added.size(); ++i) {
            const added_token& a = added[i];
            const bool fresh = a.normalized ? normalized_added_.add(nfc_ ? unicode::nfc(a.content) : a.content, a.id)
                                            : raw_added_.add(a.content, a.id);
            if (!fresh) {
                fail("added_tokens[" + std::to_string(i) + "].content",
                     quoted(a.content) + " matches the same text as an earlier added token");
            }
            if (a.content == "<|endoftext|>") end_of_text_ = a.id;
        }
        if (!end_of_text_) {
            if (const auto it = vocab.find("<|endoftext|>"); it != vocab.end()) end_of_text_ = it->second;
        }
    }

    std::string name_;
    std::string bytes_;                  // every token's bytes
    std::vector<token_entry> entries_;   // by id; size = vocab_size()
    std::array<std::int32_t, 256> byte_ids_{};  // id of each byte's symbol, -1 if not in the vocab
    detail::bpe_merge_table merges_;
    detail::added_token_matcher raw_added_;         // added tokens with normalized=false
    detail::added_token_matcher normalized_added_;  // added tokens with normalized=true (NFC content)
    bool nfc_ = false;
    std::optional<std::int32_t> end_of_text_;
};

}  // namespace rwkv::text
