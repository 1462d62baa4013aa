// Fuzz target: rwkv::text::bpe_tokenizer::from_string — the Hugging Face tokenizer.json reader
// (model type, vocab map, merges as strings or pairs, added_tokens and their flags, normalizer,
// pre-tokenizer, decoder, post-processor, truncation/padding), and the tables it builds.
//
// Oracles on a tokenizer that loads: every id below vocab_size() either has_token() or is rejected
// by token_bytes(); encoding a fixed sample and the input itself (when valid UTF-8) gives ids that
// all have tokens and decode without error.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "rwkv/text/bpe_tokenizer.hpp"
#include "rwkv/text/utf8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view json = rwkv_fuzz::as_text(data, size);
    std::optional<rwkv::text::bpe_tokenizer> parsed;
    if (!rwkv_fuzz::accepted("bpe_tokenizer_json",
                             [&] { parsed = rwkv::text::bpe_tokenizer::from_string(json, "fuzz-tokenizer.json"); }))
        return 0;
    const auto& tok = *parsed;
    const std::int32_t n = tok.vocab_size();
    for (std::int32_t id = 0; id < n && id < 1024; ++id) {
        if (tok.has_token(id)) {
            (void)tok.token_bytes(id);
        } else {
            RWKV_FUZZ_CHECK(!rwkv_fuzz::accepted("token_bytes(unused)", [&] { (void)tok.token_bytes(id); }));
        }
    }
    RWKV_FUZZ_CHECK(!rwkv_fuzz::accepted("token_bytes(-1)", [&] { (void)tok.token_bytes(-1); }));
    for (std::string_view text : {std::string_view("Hello world, it's 2024!  \n\n été 你好 <|endoftext|>"), json}) {
        if (!rwkv::text::is_valid_utf8(text)) continue;
        const auto ids = tok.encode(text);  // valid UTF-8 never throws
        for (std::int32_t id : ids) RWKV_FUZZ_CHECK(tok.has_token(id));
        (void)tok.decode(ids);
    }
    return 0;
}
