// rwkv/any_model.hpp — one run-time interface over every architecture and policy.
//
// For tools that learn the architecture from the file (the CLI, bindings). Type erasure happens
// once, at the model boundary: each virtual call runs a whole forward pass of a concrete
// model<Backend, Precision>, never an individual op.
//
// Two ways to build it, as {fmt} offers (docs/compile-times.md):
// - header-only (the default): this header includes rwkv/any_model/open.hpp, which instantiates every
//   architecture × precision × backend in the translation unit that calls any_model::open — minutes
//   of compile time for that one TU;
// - compiled: link the CMake target rwkv::any_model (it defines RWKV_ANY_MODEL_COMPILED). Then this
//   header is all a TU sees — declarations over the state, workspace and error types — and the models
//   are instantiated once, in the library's own translation units (src/any_model/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "rwkv/core/architecture.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/models/workspace.hpp"

namespace rwkv {

struct open_options {
    std::string precision = "f32";        // f32 | bf16 | f16 | int8 | int4 (block-quantized matrices)
    std::string backend = "cpu";          // cpu (SIMD, threads) | reference (plain loops, double sums)
    std::size_t threads = 1;              // cpu backend: threads of the model's pool (1 = caller only)
    std::string goldfinch_config;         // optional official {"model": {...}} JSON (GoldFinch only)
    std::size_t max_context = 4096;       // GoldFinch: tokens of context cache reserved per state
    std::string instruction_set;          // cpu backend: "" = the best this CPU runs; avx512 | avx2 | sse2 | portable
};

struct model_summary {
    architecture arch{};
    std::size_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, head_size = 0, dim_ffn = 0;
    std::size_t weight_bytes_per_token = 0;  // every tensor but the embedding table (recurrent_model)
    std::size_t matrix_elements = 0;         // every weight matrix, the head included
    std::size_t head_elements = 0;           // the head alone (0 without one)
    std::string backend, precision;          // what runs it, e.g. "cpu/avx512", "f32"
};

class any_workspace {
public:
    virtual ~any_workspace() = default;
    // Bytes of scratch it holds (its activations and per-agent arrays).
    virtual std::size_t bytes() const noexcept = 0;
};

namespace detail {

// What any_model erases: one concrete model<Backend, Precision> behind whole-pass virtual calls
// (implemented by detail::erased_model in rwkv/any_model/open.hpp).
struct any_model_concept {
    virtual ~any_model_concept() = default;
    virtual model_summary summary() const = 0;
    virtual state make_state() const = 0;
    virtual std::unique_ptr<any_workspace> make_workspace(std::size_t max_tokens) const = 0;
    virtual void forward(std::span<const std::int32_t> tokens, state& st, any_workspace& ws,
                         std::span<float> logits, logits_mode mode) const = 0;
    virtual void forward_batch(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                               std::span<state* const> states, any_workspace& ws, std::span<float> logits,
                               logits_mode mode) const = 0;
    virtual void save_converted(const std::filesystem::path& path) const = 0;
};

}  // namespace detail

class any_model {
public:
    static constexpr std::string_view precisions[] = {"f32", "bf16", "f16", "int8", "int4"};
    static constexpr std::string_view backends_built[] = {"cpu", "reference"};

    // Opens a checkpoint, detects its architecture (an unknown one is a model_error naming what was
    // found) and builds the concrete model for the requested backend and precision.
    static any_model open(const std::filesystem::path& path, const open_options& opt = {});

    model_summary summary() const { return impl_->summary(); }
    // Writes the model as its precision keeps it, to a file that loads with no work (tooling/convert.hpp).
    void save_converted(const std::filesystem::path& path) const { impl_->save_converted(path); }
    const std::string& source() const noexcept { return source_; }
    state make_state() const { return impl_->make_state(); }
    std::unique_ptr<any_workspace> make_workspace(std::size_t max_tokens = 64) const {
        return impl_->make_workspace(max_tokens);
    }
    void forward(std::span<const std::int32_t> tokens, state& st, any_workspace& ws, std::span<float> logits,
                 logits_mode mode = logits_mode::last) const {
        impl_->forward(tokens, st, ws, logits, mode);
    }
    // Many agents in one call (recurrent_model::forward_batch): agent g consumes lengths[g] tokens
    // (lengths empty: one each); logits row g is its last token's.
    void forward_batch(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                       std::span<state* const> states, any_workspace& ws, std::span<float> logits,
                       logits_mode mode = logits_mode::last) const {
        impl_->forward_batch(tokens, lengths, states, ws, logits, mode);
    }

private:
    std::unique_ptr<const detail::any_model_concept> impl_;
    std::string source_;
};

}  // namespace rwkv

#ifndef RWKV_ANY_MODEL_COMPILED
#include "rwkv/any_model/open.hpp"
#endif
