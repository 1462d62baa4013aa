// rwkv/models/workspace.hpp — what every model's forward pass shares: the logits modes, argument
// checks at the API boundary, and a bump allocator that carves [T, n] scratch matrices out of one
// aligned block allocated when the workspace is made (never during a forward pass).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/buffer.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/core/tensor.hpp"

namespace rwkv {

enum class logits_mode {
    none,  // only advance the state (prefill whose logits nobody reads)
    last,  // logits of the last token: [V]
    all,   // logits of every token: [T, V]
};

// The arrays behind a batched call's agent_batch (core/agent_batch.hpp), sized once for up to
// `capacity` agents, so that stepping a batch allocates nothing.
template <memory_space Space = host_space>
struct agent_scratch {
    std::vector<basic_state<Space>*> states;
    std::vector<float*> base;
    std::vector<std::size_t> row_begin;

    agent_scratch() = default;
    explicit agent_scratch(std::size_t capacity) : states(capacity), base(capacity), row_begin(capacity + 1) {}
    std::size_t capacity() const noexcept { return states.size(); }
};

template <memory_space Space = host_space>
class scratch_arena {
    buffer<float, Space> storage_;
    std::size_t used_ = 0;

public:
    scratch_arena() = default;
    // Room for `floats` values in up to `max_matrices` matrices (each padded to 16 floats).
    explicit scratch_arena(std::size_t floats, std::size_t max_matrices = 64) : storage_(floats + 16 * max_matrices) {}

    // A [rows, cols] matrix; each starts on a 64-byte boundary.
    matrix_view<float, Space> take(std::size_t rows, std::size_t cols) {
        const std::size_t n = rows * cols;
        const std::size_t padded = (n + 15) / 16 * 16;
        if (used_ + padded > storage_.size()) throw invalid_argument("scratch_arena: workspace too small");
        matrix_view<float, Space> m(storage_.data_handle() + used_, rows, cols);
        used_ += padded;
        return m;
    }
    std::size_t bytes() const noexcept { return storage_.size() * sizeof(float); }
};

// Where a forward call's host-side inputs and outputs meet the model's memory space. In a host
// space the call reads the caller's token ids and writes the caller's logits directly, and these
// buffers stay empty; in any other space the call copies the token ids in and the logits (or
// features) out through them, sized once here for `capacity` tokens of `width` outputs.
template <memory_space Space = host_space>
struct boundary_buffers {
    buffer<std::int32_t, Space> tokens;  // [capacity]
    buffer<float, Space> outputs;        // [capacity, width]

    boundary_buffers() = default;
    boundary_buffers(std::size_t capacity, std::size_t width) {
        if constexpr (!Space::host_accessible) {
            tokens = buffer<std::int32_t, Space>(capacity);
            outputs = buffer<float, Space>(capacity * width);
        }
    }
    std::size_t bytes() const noexcept { return tokens.bytes() + outputs.bytes(); }
};

// What every model's workspace holds besides its own scratch matrices: its capacity in tokens, the
// scratch arena they are carved from, the per-agent arrays of a batched call and the boundary
// buffers. A model's workspace derives from it.
template <memory_space Space = host_space>
struct workspace_base {
    using space = Space;
    std::size_t capacity = 0;
    agent_scratch<Space> agents;  // per-agent arrays of a batched call (forward_batch)
    boundary_buffers<Space> boundary;
    scratch_arena<Space> arena;

    workspace_base() = default;
    // `outputs`: values per token a call may hand back (the vocabulary, or C for features).
    workspace_base(std::size_t max_tokens, std::size_t outputs, std::size_t arena_floats, const char* who)
        : capacity(max_tokens), agents(max_tokens), boundary(max_tokens, outputs), arena(arena_floats) {
        if (max_tokens == 0) throw invalid_argument(std::string(who) + ": capacity must be at least 1 token");
    }
};

// Bytes a model's workspace holds: its scratch arena, its boundary buffers and its per-agent arrays.
template <class Workspace>
std::size_t workspace_bytes(const Workspace& ws) noexcept {
    return ws.arena.bytes() + ws.boundary.bytes() +
           ws.agents.capacity() * (sizeof(void*) + sizeof(float*) + sizeof(std::size_t));
}

// Checks of forward()'s arguments shared by every model; messages name the call.
template <class Workspace, memory_space Space>
void check_forward_args(std::span<const std::int32_t> tokens, const basic_state<Space>& st, const Workspace& ws,
                        std::span<const float> logits, logits_mode mode, std::size_t n_vocab,
                        const state_layout& layout, const char* who) {
    if (tokens.empty()) throw invalid_argument(std::string(who) + ": no tokens");
    for (std::size_t t = 0; t < tokens.size(); ++t)
        if (tokens[t] < 0 || static_cast<std::size_t>(tokens[t]) >= n_vocab)
            throw invalid_argument(std::string(who) + ": token id " + std::to_string(tokens[t]) + " at position " +
                                   std::to_string(t) + " is out of range [0, " + std::to_string(n_vocab) + ")");
    st.require_layout(layout, who);
    if (ws.capacity == 0) throw invalid_argument(std::string(who) + ": workspace was not made by this model");
    const std::size_t need = mode == logits_mode::all ? tokens.size() * n_vocab : mode == logits_mode::last ? n_vocab : 0;
    if (logits.size() < need)
        throw invalid_argument(std::string(who) + ": logits buffer holds " + std::to_string(logits.size()) +
                               " floats, needs " + std::to_string(need));
}

}  // namespace rwkv
