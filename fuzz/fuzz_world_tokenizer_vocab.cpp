// Fuzz target: rwkv::text::world_tokenizer::from_string — the vocabulary parser (line splitting at
// the first and last space, ids, Python str/bytes literals with every escape form, byte counts,
// duplicate ids, CRLF, BOM) and the breadth-first trie built from it.
//
// Oracles on a vocabulary that parses: every id with an entry round-trips through token_bytes and
// has_token; encoding the input itself (any bytes) either fails with rwkv::invalid_argument (a byte
// that starts no token) or decodes back to exactly the input; each token's own bytes encode to ids
// whose bytes concatenate back to it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "rwkv/text/world_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = rwkv_fuzz::as_text(data, size);
    std::optional<rwkv::text::world_tokenizer> parsed;
    if (!rwkv_fuzz::accepted("world_tokenizer_vocab",
                             [&] { parsed = rwkv::text::world_tokenizer::from_string(text, "fuzz-vocab"); }))
        return 0;
    // From here on nothing may throw except where a rejection is expected (accepted(...) below).
    const auto& tok = *parsed;
    RWKV_FUZZ_CHECK(tok.vocab_size() > 1);
    RWKV_FUZZ_CHECK(tok.token_bytes(rwkv::text::world_tokenizer::end_of_text).empty());
    std::size_t checked = 0;
    for (std::int32_t id = 1; id < tok.vocab_size() && checked < 512; ++id) {
        if (!tok.has_token(id)) continue;
        ++checked;
        const std::string bytes(tok.token_bytes(id));
        RWKV_FUZZ_CHECK(!bytes.empty());
        // A token's own bytes are one longest match: this id, or a smaller one with the same bytes.
        const auto ids = tok.encode(bytes);
        RWKV_FUZZ_CHECK(ids.size() == 1);
        RWKV_FUZZ_CHECK(ids[0] <= id && tok.token_bytes(ids[0]) == bytes);
    }
    RWKV_FUZZ_CHECK(!rwkv_fuzz::accepted("token_bytes(-1)", [&] { (void)tok.token_bytes(-1); }));
    RWKV_FUZZ_CHECK(!rwkv_fuzz::accepted("token_bytes(vocab_size)", [&] { (void)tok.token_bytes(tok.vocab_size()); }));

    std::vector<std::int32_t> ids;
    if (rwkv_fuzz::accepted("encode(input)", [&] { tok.encode(text, ids); })) {
        RWKV_FUZZ_CHECK(tok.decode(ids) == text);
    }
    return 0;
}
