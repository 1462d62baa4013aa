// rwkv/text/unicode.hpp — the Unicode services the GPT-NeoX byte-level BPE tokenizer needs
// (docs/spec/rwkv.md §7.2): NFC normalisation, the character classes of the GPT-2 split regex, and
// UTF-8 validation that reports where the input goes wrong.
//
// The tables come from utf8proc (Debian libutf8proc-dev, link with -lutf8proc), as docs/contracts.md
// asks: nothing here is a hand-written table of letters or numbers.
//
// * NFC is utf8proc_map(UTF8PROC_STABLE | UTF8PROC_COMPOSE). Text whose bytes are all below 0xCC
//   (every code point below U+0300) is already NFC and is returned without calling the library:
//   every such code point is a starter with NFC_Quick_Check=Yes, and the characters that can combine
//   with a preceding one (NFC_Quick_Check=Maybe) all lie at U+0300 or above.
// * \p{L} is General_Category L (Lu Ll Lt Lm Lo), \p{N} is N (Nd Nl No), from utf8proc_category.
// * \s is the Unicode White_Space property. That is what HF tokenizers' regex engine uses: it
//   compiles the split pattern with Oniguruma (the onig crate, Ruby syntax, no ASCII-range
//   option), whose \s under a Unicode encoding is its "Space" class, generated from White_Space in
//   PropList.txt (oniguruma src/make_unicode_property_data.py: dic['Space'] = dic['White_Space'];
//   CR_Space = U+0009..000D, 0020, 0085, 00A0, 1680, 2000..200A, 2028, 2029, 202F, 205F, 3000).
//   The Rust regex crate's Unicode \s is the same property, so both HF builds agree. It is computed
//   here as the equivalent "General_Category Zs, Zl or Zp, or one of U+0009..000D, U+0085" (every
//   Zs/Zl/Zp character is White_Space and the remaining White_Space characters are those six
//   controls); the test suite checks this against the list above for every code point. Note that
//   U+001C..001F (Python's str.isspace) and U+200B ZERO WIDTH SPACE are not \s.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <utf8proc.h>

#include "rwkv/core/error.hpp"
#include "rwkv/text/utf8.hpp"

namespace rwkv::text::unicode {

// The classes that the GPT-2 split regex distinguishes. Every code point is in exactly one:
// letters (\p{L}), numbers (\p{N}), white space (\s), and everything else ([^\s\p{L}\p{N}]).
enum class regex_class : std::uint8_t { letter, number, space, other };

namespace detail {

constexpr std::array<regex_class, 128> make_ascii_classes() noexcept {
    std::array<regex_class, 128> t{};
    for (std::size_t c = 0; c < t.size(); ++c) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
            t[c] = regex_class::letter;
        } else if (c >= '0' && c <= '9') {
            t[c] = regex_class::number;
        } else if ((c >= 0x09 && c <= 0x0D) || c == ' ') {
            t[c] = regex_class::space;
        } else {
            t[c] = regex_class::other;
        }
    }
    return t;
}

inline constexpr std::array<regex_class, 128> ascii_classes = make_ascii_classes();

}  // namespace detail

// The class of one Unicode scalar value (cp ≤ 0x10FFFF, not a surrogate).
inline regex_class classify(std::uint32_t cp) noexcept {
    if (cp < 0x80) return detail::ascii_classes[cp];
    if (cp == 0x85) return regex_class::space;  // NEL: a White_Space control
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
            return regex_class::letter;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            return regex_class::number;
        case UTF8PROC_CATEGORY_ZS:
        case UTF8PROC_CATEGORY_ZL:
        case UTF8PROC_CATEGORY_ZP:
            return regex_class::space;
        default:
            return regex_class::other;
    }
}

// True for code points with the Unicode White_Space property (the regex \s, see the top comment).
inline bool is_white_space(std::uint32_t cp) noexcept { return classify(cp) == regex_class::space; }

// Decodes the character starting at s[0] of well-formed UTF-8 (the caller has validated the
// text and s points at a character boundary with the whole character available); sets len to its
// length in bytes.
inline std::uint32_t decode_valid_utf8(const unsigned char* s, std::size_t& len) noexcept {
    const std::uint32_t b0 = s[0];
    if (b0 < 0x80) {
        len = 1;
        return b0;
    }
    if (b0 < 0xE0) {
        len = 2;
        return ((b0 & 0x1F) << 6) | (s[1] & 0x3Fu);
    }
    if (b0 < 0xF0) {
        len = 3;
        return ((b0 & 0x0F) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    }
    len = 4;
    return ((b0 & 0x07) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}

// The byte offset of the first byte that is not part of a well-formed UTF-8 character (Unicode
// Table 3-7: no overlongs, surrogates, code points above U+10FFFF or truncated sequences), or
// std::string_view::npos when the whole text is well-formed.
inline std::size_t invalid_utf8_offset(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        i += rwkv::text::detail::ascii_prefix_length(p + i, n - i);
        if (i == n) break;
        const rwkv::text::detail::utf8_lead_info lead = rwkv::text::detail::utf8_lead(p[i]);
        if (lead.need == 0 || n - i - 1 < lead.need) return i;
        if (p[i + 1] < lead.lo || p[i + 1] > lead.hi) return i;
        for (std::size_t k = 2; k <= lead.need; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
        }
        i += std::size_t{lead.need} + 1;
    }
    return std::string_view::npos;
}

// True when every code point of the (valid UTF-8) text is below U+0300, which makes the text NFC
// as it stands (see the top comment).
inline bool is_trivially_nfc(std::string_view text) noexcept {
    for (char c : text) {
        if (static_cast<unsigned char>(c) >= 0xCC) return false;
    }
    return true;
}

namespace detail {

// NFC of one chunk through utf8proc (see append_nfc).
inline void append_nfc_chunk(std::string_view text, std::string& out) {
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t len =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
    if (len < 0) {
        throw invalid_argument(std::string("NFC normalisation failed: ") + utf8proc_errmsg(len));
    }
    out.append(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(len));
}

}  // namespace detail

// Appends the NFC form of `text` (well-formed UTF-8; NUL characters are allowed) to out.
// Throws rwkv::invalid_argument if utf8proc rejects the text (only possible for invalid UTF-8).
//
// Only the stretches that may change go through utf8proc. The text is cut just before ASCII
// characters, which is safe for NFC: an ASCII character has combining class 0 and never combines
// with a character before it, so nothing left of the cut interacts with anything right of it. A
// stretch between two cuts whose code points are all below U+0300 is copied as it is (see
// is_trivially_nfc); one that has a byte ≥ 0xCC is normalised together with the ASCII character
// before it (which can combine with marks that follow it).
inline void append_nfc(std::string_view text, std::string& out) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t pos = 0;
    while (pos < n) {
        std::size_t k = pos;
        while (k < n && s[k] < 0xCC) ++k;
        if (k == n) break;
        std::size_t start = k;  // back to the ASCII character before the non-ASCII run
        while (start > pos && s[start - 1] >= 0x80) --start;
        if (start > pos) --start;
        std::size_t end = k + 1;  // forward to the next ASCII character
        while (end < n && s[end] >= 0x80) ++end;
        out.append(text.data() + pos, start - pos);
        detail::append_nfc_chunk(text.substr(start, end - start), out);
        pos = end;
    }
    out.append(text.data() + pos, n - pos);
}

// The NFC form of `text` (see append_nfc).
inline std::string nfc(std::string_view text) {
    std::string out;
    append_nfc(text, out);
    return out;
}

}  // namespace rwkv::text::unicode
