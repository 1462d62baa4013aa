// src/c_api/text.cpp — tokenizers and the seeded sampler.
#include <cmath>
#include <cstring>
#include <limits>

#include "boundary.hpp"
#include "handles.hpp"

namespace {

using rwkv_c::require;

rwkv::generate::sampler_config to_config(const rwkv_sampler_options& o) {
    rwkv::generate::sampler_config c;
    c.temperature = o.temperature;
    c.top_p = o.top_p;
    c.top_k = o.top_k;
    c.min_p = o.min_p;
    c.presence_penalty = o.presence_penalty;
    c.frequency_penalty = o.frequency_penalty;
    c.penalty_decay = o.penalty_decay;
    c.seed = o.seed;
    return c;
}

}  // namespace

extern "C" {

// ---- tokenizers ------------------------------------------------------------------------------------

rwkv_status rwkv_tokenizer_load(const char* path, rwkv_tokenizer** out) {
    if (out) *out = nullptr;
    return rwkv_c::guarded([&] {
        require(path != nullptr, "rwkv_tokenizer_load", "path is NULL");
        require(out != nullptr, "rwkv_tokenizer_load", "out is NULL");
        auto t = std::make_unique<rwkv_tokenizer>();
        t->impl = std::make_shared<const rwkv::text::any_tokenizer>(rwkv::text::open_tokenizer(path));
        *out = t.release();
        return RWKV_OK;
    });
}

rwkv_status rwkv_tokenizer_for_model(const rwkv_model* model, rwkv_tokenizer** out) {
    if (out) *out = nullptr;
    return rwkv_c::guarded([&] {
        const auto& m = rwkv_c::deref(model, "rwkv_tokenizer_for_model", "model");
        require(out != nullptr, "rwkv_tokenizer_for_model", "out is NULL");
        if (!m.implied_tokenizer)
            return rwkv_c::fail(RWKV_ERROR_UNSUPPORTED, ("rwkv_tokenizer_for_model: " + m.no_tokenizer_reason).c_str());
        *out = new rwkv_tokenizer{m.implied_tokenizer};
        return RWKV_OK;
    });
}

void rwkv_tokenizer_free(rwkv_tokenizer* tokenizer) { delete tokenizer; }

size_t rwkv_tokenizer_vocab_size(const rwkv_tokenizer* tokenizer) {
    return tokenizer ? static_cast<size_t>(tokenizer->impl->vocab_size()) : 0;
}

int32_t rwkv_tokenizer_end_of_text(const rwkv_tokenizer* tokenizer) {
    if (!tokenizer) return -1;
    return tokenizer->impl->end_of_text_id().value_or(-1);
}

rwkv_status rwkv_tokenize(const rwkv_tokenizer* tokenizer, const char* text, size_t text_len, int32_t* tokens,
                          size_t capacity, size_t* n_tokens) {
    return rwkv_c::guarded([&] {
        const auto& t = rwkv_c::deref(tokenizer, "rwkv_tokenize", "tokenizer");
        require(n_tokens != nullptr, "rwkv_tokenize", "n_tokens is NULL");
        require(text != nullptr || text_len == 0, "rwkv_tokenize", "text is NULL but text_len is not 0");
        const auto ids = t.impl->encode(std::string_view(text ? text : "", text_len));
        *n_tokens = ids.size();
        if (capacity < ids.size())
            return rwkv_c::fail(RWKV_ERROR_BUFFER_TOO_SMALL,
                                ("rwkv_tokenize: the text needs " + std::to_string(ids.size()) +
                                 " tokens, the buffer holds " + std::to_string(capacity))
                                    .c_str());
        require(tokens != nullptr || ids.empty(), "rwkv_tokenize", "tokens is NULL");
        if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(std::int32_t));
        return RWKV_OK;
    });
}

rwkv_status rwkv_detokenize(const rwkv_tokenizer* tokenizer, const int32_t* tokens, size_t n_tokens, char* text,
                            size_t capacity, size_t* n_bytes) {
    return rwkv_c::guarded([&] {
        const auto& t = rwkv_c::deref(tokenizer, "rwkv_detokenize", "tokenizer");
        require(n_bytes != nullptr, "rwkv_detokenize", "n_bytes is NULL");
        require(tokens != nullptr || n_tokens == 0, "rwkv_detokenize", "tokens is NULL but n_tokens is not 0");
        const std::string bytes = t.impl->decode(std::span(tokens, n_tokens));
        *n_bytes = bytes.size();
        if (capacity < bytes.size())
            return rwkv_c::fail(RWKV_ERROR_BUFFER_TOO_SMALL,
                                ("rwkv_detokenize: the text has " + std::to_string(bytes.size()) +
                                 " bytes, the buffer holds " + std::to_string(capacity))
                                    .c_str());
        require(text != nullptr || capacity == 0, "rwkv_detokenize", "text is NULL");
        if (!bytes.empty()) std::memcpy(text, bytes.data(), bytes.size());
        if (capacity > bytes.size()) text[bytes.size()] = '\0';
        return RWKV_OK;
    });
}

rwkv_status rwkv_token_bytes(const rwkv_tokenizer* tokenizer, int32_t token, const char** bytes, size_t* n_bytes) {
    return rwkv_c::guarded([&] {
        const auto& t = rwkv_c::deref(tokenizer, "rwkv_token_bytes", "tokenizer");
        require(bytes != nullptr && n_bytes != nullptr, "rwkv_token_bytes", "bytes or n_bytes is NULL");
        if (token < 0 || token >= t.impl->vocab_size())
            throw rwkv::invalid_argument("rwkv_token_bytes: token id " + std::to_string(token) + " is outside [0, " +
                                         std::to_string(t.impl->vocab_size()) + ")");
        const std::string_view b = t.impl->token_bytes(token);
        *bytes = b.data();
        *n_bytes = b.size();
        return RWKV_OK;
    });
}

// ---- sampling --------------------------------------------------------------------------------------

void rwkv_sampler_options_init(rwkv_sampler_options* options) {
    if (!options) return;
    const rwkv::generate::sampler_config d;
    options->temperature = d.temperature;
    options->top_p = d.top_p;
    options->top_k = d.top_k;
    options->min_p = d.min_p;
    options->presence_penalty = d.presence_penalty;
    options->frequency_penalty = d.frequency_penalty;
    options->penalty_decay = d.penalty_decay;
    options->seed = d.seed;
}

rwkv_status rwkv_sampler_new(const rwkv_sampler_options* options, size_t vocab_size, rwkv_sampler** out) {
    if (out) *out = nullptr;
    return rwkv_c::guarded([&] {
        require(out != nullptr, "rwkv_sampler_new", "out is NULL");
        if (vocab_size == 0 || vocab_size > static_cast<size_t>(std::numeric_limits<std::int32_t>::max()))
            throw rwkv::invalid_argument("rwkv_sampler_new: vocab_size " + std::to_string(vocab_size) +
                                         " is outside [1, 2^31)");
        rwkv_sampler_options o;
        rwkv_sampler_options_init(&o);
        if (options) o = *options;
        *out = new rwkv_sampler{rwkv::generate::sampler(to_config(o), static_cast<std::int32_t>(vocab_size))};
        return RWKV_OK;
    });
}

void rwkv_sampler_free(rwkv_sampler* sampler) { delete sampler; }

rwkv_status rwkv_sample(rwkv_sampler* sampler, const float* logits, size_t logits_len, int32_t* token) {
    return rwkv_c::guarded([&] {
        auto& s = rwkv_c::deref(sampler, "rwkv_sample", "sampler");
        require(logits != nullptr, "rwkv_sample", "logits is NULL");
        require(token != nullptr, "rwkv_sample", "token is NULL");
        *token = s.impl.sample(std::span(logits, logits_len));
        return RWKV_OK;
    });
}

rwkv_status rwkv_sampler_accept(rwkv_sampler* sampler, int32_t token) {
    return rwkv_c::guarded([&] {
        rwkv_c::deref(sampler, "rwkv_sampler_accept", "sampler").impl.accept(token);
        return RWKV_OK;
    });
}

rwkv_status rwkv_sampler_reset(rwkv_sampler* sampler) {
    return rwkv_c::guarded([&] {
        rwkv_c::deref(sampler, "rwkv_sampler_reset", "sampler").impl.reset();
        return RWKV_OK;
    });
}

}  // extern "C"
