// Fuzz target: rwkv::text::utf8_stream_decoder (push chunks, then flush) and is_valid_utf8.
//
// Input: the first byte seeds the chunk lengths (1..16 bytes, from a tiny LCG), the rest is the
// byte stream. Oracles:
//  * the output is valid UTF-8 (is_valid_utf8) after every push and at the end;
//  * it does not depend on the chunking: equal to pushing everything at once, and to pushing one
//    byte at a time;
//  * at most 3 bytes are ever held back, and nothing after flush;
//  * valid input comes out unchanged, and is_valid_utf8 agrees with an independent decoder below
//    (Unicode Table 3-7 written as code-point ranges);
//  * every U+FFFD in the output of valid-looking input is accounted for: for valid input there are
//    exactly as many as in the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "rwkv/text/utf8.hpp"

namespace {

// Strict UTF-8 check by decoding code points: no overlongs, no surrogates, nothing > U+10FFFF.
bool reference_valid(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0, min = 0;
        if (b0 < 0x80) {
            ++i;
            continue;
        } else if ((b0 & 0xE0) == 0xC0) {
            n = 1, cp = b0 & 0x1Fu, min = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            n = 2, cp = b0 & 0x0Fu, min = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            n = 3, cp = b0 & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (s.size() - i - 1 < n) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::size_t count_replacements(std::string_view s) {
    std::size_t n = 0;
    for (std::size_t at = s.find(rwkv::text::replacement_character); at != std::string_view::npos;
         at = s.find(rwkv::text::replacement_character, at + 1))
        ++n;
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::uint32_t rng = data[0] * 2654435761u + 1u;
    const std::string_view stream = rwkv_fuzz::as_text(data + 1, size - 1);

    rwkv::text::utf8_stream_decoder chunked;
    std::string out_chunked;
    for (std::size_t pos = 0; pos < stream.size();) {
        rng = rng * 1664525u + 1013904223u;
        const std::size_t len = std::min<std::size_t>(1 + (rng >> 28), stream.size() - pos);
        const std::string piece = chunked.push(stream.substr(pos, len));
        RWKV_FUZZ_CHECK(rwkv::text::is_valid_utf8(piece));
        out_chunked += piece;
        RWKV_FUZZ_CHECK(chunked.pending_size() <= 3);
        pos += len;
    }
    chunked.flush(out_chunked);
    RWKV_FUZZ_CHECK(chunked.pending_size() == 0);

    rwkv::text::utf8_stream_decoder whole;
    std::string out_whole = whole.push(stream);
    out_whole += whole.flush();

    rwkv::text::utf8_stream_decoder bytewise;
    std::string out_bytewise;
    for (char c : stream) bytewise.push(std::string_view(&c, 1), out_bytewise);
    bytewise.flush(out_bytewise);

    RWKV_FUZZ_CHECK(rwkv::text::is_valid_utf8(out_chunked));
    RWKV_FUZZ_CHECK(reference_valid(out_chunked));
    RWKV_FUZZ_CHECK(out_chunked == out_whole);
    RWKV_FUZZ_CHECK(out_chunked == out_bytewise);

    const bool valid = rwkv::text::is_valid_utf8(stream);
    RWKV_FUZZ_CHECK(valid == reference_valid(stream));
    if (valid) {
        RWKV_FUZZ_CHECK(out_chunked == stream);
    } else {
        RWKV_FUZZ_CHECK(count_replacements(out_chunked) > count_replacements(stream));
    }
    return 0;
}
