// src/c_api/handles.hpp — what the C API's opaque handles hold. Shared by the C API's translation
// units only; the header users see (include/rwkv/rwkv.h) declares them as incomplete types.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "rwkv/any_model.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/rwkv.h"
#include "rwkv/text/tokenizer.hpp"

struct rwkv_model {
    rwkv::any_model net;
    rwkv::model_summary summary;
    std::string arch_name;
    rwkv::state initial;  // make_state() once: resets and raw calls copy from it
    // The tokenizer the file implies (bytes, a GGUF's World vocabulary), or null and why not.
    std::shared_ptr<const rwkv::text::any_tokenizer> implied_tokenizer;
    std::string no_tokenizer_reason;

    const rwkv::state_layout& layout() const { return initial.layout(); }
    bool has_cache() const { return layout().cache_width > 0; }
};

struct rwkv_state {
    const rwkv_model* model = nullptr;
    rwkv::state value;
};

struct rwkv_session {
    const rwkv_model* model = nullptr;
    std::unique_ptr<rwkv::any_workspace> workspace;
    std::size_t capacity = 0;          // rows per internal step, and the largest batch
    rwkv_state own;                    // the session's own state (state argument NULL)
    rwkv::state scratch;               // the raw calls copy the caller's buffers through it
    std::vector<rwkv::state*> batch;   // [capacity]: rwkv_eval_batch's states, without allocating
};

struct rwkv_tokenizer {
    std::shared_ptr<const rwkv::text::any_tokenizer> impl;
};

struct rwkv_sampler {
    rwkv::generate::sampler impl;
};
