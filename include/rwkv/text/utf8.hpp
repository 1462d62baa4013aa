// rwkv/text/utf8.hpp — strict UTF-8 validation, UTF-8 encoding of a code point, and a streaming
// decoder that holds back incomplete characters.
//
// docs/spec/rwkv.md §7.1 "Decoding": tokenizers return raw token bytes, and a token can end in the middle
// of a multi-byte character. Code that prints while generating pushes each token's bytes through a
// utf8_stream_decoder, which only releases complete characters and replaces bytes that can never
// become valid with U+FFFD, one per maximal invalid subpart (Unicode §3.9 "U+FFFD Substitution of
// Maximal Subparts", the same result as Python's bytes.decode("utf-8", errors="replace")).
// Well-formedness follows Unicode Table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace rwkv::text {

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

namespace detail {

// What a byte ≥ 0x80 means as the first byte of a character (Unicode Table 3-7): how many
// continuation bytes follow and the range the *first* continuation byte must lie in (later ones are
// always 0x80..0xBF). need == 0 marks a byte that can never start a character.
struct utf8_lead_info {
    std::uint8_t need;
    std::uint8_t lo;
    std::uint8_t hi;
};

constexpr utf8_lead_info utf8_lead(unsigned char b) noexcept {
    if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
    if (b == 0xE0) return {2, 0xA0, 0xBF};                         // excludes overlongs
    if (b == 0xED) return {2, 0x80, 0x9F};                         // excludes surrogates
    if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
    if (b == 0xF0) return {3, 0x90, 0xBF};                         // excludes overlongs
    if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
    if (b == 0xF4) return {3, 0x80, 0x8F};                         // nothing above U+10FFFF
    return {0, 0, 0};                                              // 0x80..0xC1, 0xF5..0xFF
}

// Length of the run of ASCII bytes starting at p (at most n).
inline std::size_t ascii_prefix_length(const unsigned char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    while (n - i >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        if ((w & 0x8080808080808080ULL) != 0) break;
        i += 8;
    }
    while (i < n && p[i] < 0x80) ++i;
    return i;
}

}  // namespace detail

// True when s is well-formed UTF-8 (strict: no overlongs, no surrogates, nothing above U+10FFFF,
// no truncated sequence at the end). The empty string is valid.
inline bool is_valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        i += detail::ascii_prefix_length(p + i, n - i);
        if (i == n) break;
        const detail::utf8_lead_info lead = detail::utf8_lead(p[i]);
        if (lead.need == 0 || n - i - 1 < lead.need) return false;
        if (p[i + 1] < lead.lo || p[i + 1] > lead.hi) return false;
        for (std::size_t k = 2; k <= lead.need; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
        }
        i += std::size_t{lead.need} + 1;
    }
    return true;
}

// Appends the UTF-8 encoding of the Unicode scalar value cp to out. Precondition: cp ≤ 0x10FFFF and
// cp is not a surrogate (0xD800..0xDFFF); callers check that first.
inline void append_utf8(std::string& out, std::uint32_t cp) {
    auto byte = [](std::uint32_t v) { return static_cast<char>(static_cast<unsigned char>(v)); };
    if (cp < 0x80) {
        out += byte(cp);
    } else if (cp < 0x800) {
        out += byte(0xC0 | (cp >> 6));
        out += byte(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += byte(0xE0 | (cp >> 12));
        out += byte(0x80 | ((cp >> 6) & 0x3F));
        out += byte(0x80 | (cp & 0x3F));
    } else {
        out += byte(0xF0 | (cp >> 18));
        out += byte(0x80 | ((cp >> 12) & 0x3F));
        out += byte(0x80 | ((cp >> 6) & 0x3F));
        out += byte(0x80 | (cp & 0x3F));
    }
}

// Turns a stream of byte chunks (for example the bytes of each generated token) into valid UTF-8.
//
// push() returns every complete character received so far and not yet returned; the bytes of a
// character that is still incomplete (a valid prefix of a multi-byte sequence, at most 3 bytes) are
// held back until the next push. Bytes that can never become part of a valid character are emitted
// as U+FFFD, one per maximal invalid subpart, so the concatenated output never depends on how the
// input was split into chunks and is always valid UTF-8. flush() ends the stream: a held-back
// incomplete character becomes one U+FFFD. For valid input, the concatenation of all push() outputs
// and the final flush() equals the input exactly.
class utf8_stream_decoder {
public:
    // Appends the newly completed output to out (no allocation beyond out's own growth, so a string
    // with reserved capacity gives allocation-free streaming).
    void push(std::string_view bytes, std::string& out) {
        const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
        const std::size_t n = bytes.size();
        std::size_t i = 0;
        while (i < n) {
            const unsigned char b = p[i];
            if (need_ == 0) {
                if (b < 0x80) {
                    const std::size_t run = detail::ascii_prefix_length(p + i, n - i);
                    out.append(bytes.data() + i, run);
                    i += run;
                    continue;
                }
                const detail::utf8_lead_info lead = detail::utf8_lead(b);
                ++i;
                if (lead.need == 0) {
                    out += replacement_character;
                    continue;
                }
                pending_[0] = static_cast<char>(b);
                npending_ = 1;
                need_ = lead.need;
                lo_ = lead.lo;
                hi_ = lead.hi;
                continue;
            }
            if (b >= lo_ && b <= hi_) {
                pending_[npending_++] = static_cast<char>(b);
                --need_;
                lo_ = 0x80;
                hi_ = 0xBF;
                ++i;
                if (need_ == 0) {
                    out.append(pending_, npending_);
                    npending_ = 0;
                }
                continue;
            }
            // The held-back bytes are a maximal subpart that cannot be completed: replace them and
            // look at b again as the possible start of a new character (b is not consumed).
            out += replacement_character;
            reset();
        }
    }

    std::string push(std::string_view bytes) {
        std::string out;
        push(bytes, out);
        return out;
    }

    // Ends the stream: appends U+FFFD if an incomplete character is held back, then resets.
    void flush(std::string& out) {
        if (npending_ != 0) out += replacement_character;
        reset();
    }

    std::string flush() {
        std::string out;
        flush(out);
        return out;
    }

    // Drops any held-back bytes without emitting anything.
    void reset() noexcept {
        npending_ = 0;
        need_ = 0;
        lo_ = 0x80;
        hi_ = 0xBF;
    }

    // Number of bytes currently held back (0..3).
    std::size_t pending_size() const noexcept { return npending_; }

private:
    char pending_[4] = {};
    std::uint8_t npending_ = 0;
    std::uint8_t need_ = 0;  // continuation bytes still expected
    std::uint8_t lo_ = 0x80;  // allowed range of the next continuation byte
    std::uint8_t hi_ = 0xBF;
};

}  // namespace rwkv::text
