// tools/server/engine.hpp — the small interface the server sees of the model and its tokenizer.
//
// engine.cpp is the only translation unit that sees models (any_model, compiled once in the
// rwkv::any_model library, and EmbeddingRWKV); everything else in the server talks to this class, so
// it compiles in seconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/state.hpp"
#include "rwkv/text/tokenizer.hpp"

namespace rwkv_server {

struct engine_options {
    std::filesystem::path model;
    std::string vocab;              // "" = what the model file says (as rwkv-cli generate does)
    std::string precision = "f32";
    std::size_t threads = 1;
    std::size_t max_step_tokens = 256;  // Σ tokens of one batched step (the workspace's capacity)
};

struct engine_info {
    std::string id;            // the model file's name, as /v1/models lists it
    std::string architecture;  // rwkv4 … rwkv7, goldfinch, embedding
    std::string backend, precision;
    std::size_t n_vocab = 0, n_embd = 0;
    std::size_t state_bytes = 0;
    bool embedding = false;  // an EmbeddingRWKV model: /v1/embeddings only
};

class engine {
public:
    virtual ~engine() = default;
    virtual const engine_info& info() const noexcept = 0;
    virtual const rwkv::text::any_tokenizer& tokenizer() const noexcept = 0;
    // A fresh (zero) state of this model.
    virtual rwkv::state make_state() const = 0;
    // A state read from a state file (rwkv/state/state_file.hpp); rwkv::state_error when it is not
    // this model's layout.
    virtual rwkv::state load_state_file(const std::filesystem::path& path) const = 0;
    // One batched step: agent g consumes lengths[g] tokens of `tokens` and advances *states[g];
    // row g of logits ([B, n_vocab]) is its last token's. Σ lengths ≤ max_step_tokens.
    virtual void step(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                      std::span<rwkv::state* const> states, std::span<float> logits) = 0;
    // EmbeddingRWKV only: the retrieval embedding of `tokens` (EOS is appended by the caller).
    virtual std::vector<float> embed(std::span<const std::int32_t> tokens) = 0;
};

// Opens the model (any file rwkv::any_model or EmbeddingRWKV reads) and its tokenizer.
std::unique_ptr<engine> open_engine(const engine_options& options);

}  // namespace rwkv_server
