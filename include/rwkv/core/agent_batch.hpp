// rwkv/core/agent_batch.hpp — which rows of a forward call belong to which recurrent state.
//
// A forward call pushes rows of activations (one per token) through the blocks. Every projection
// treats the rows alike, so one [rows, C] × [C, C'] product serves them all and the weights stream
// once per call. Only the ops that read or write the recurrent state (token shift, the WKV scans)
// must know whose state a row advances:
//
//   sequence mode        one agent owns rows [0, T)
//   batched decode step  B agents own one row each: agent g owns row g
//   batched prefill      B agents own consecutive runs of rows, one per prompt
//
// Those ops run per agent, over the agent's own rows, with fixed arithmetic per element: an agent's
// numbers never depend on the batch it is in (docs/design.md, "Many agents, one model").
#pragma once

#include <cassert>
#include <cstddef>
#include <span>
#include <utility>

#include "rwkv/core/state.hpp"

namespace rwkv {

// One entry of the state list (by its offset), for every agent of a batch. The pointers point into
// the states' memory space (the model's backend's): only kernels running there dereference them.
struct state_slots {
    float* const* base = nullptr;            // [agents]: each agent's state values; nullptr: one agent, `single`
    const std::size_t* row_begin = nullptr;  // [agents + 1]: agent g owns rows [row_begin[g], row_begin[g + 1]);
                                             // nullptr: the one agent owns every row
    std::size_t agents = 1;
    std::size_t offset = 0;  // of the entry, in floats from the start of a state
    float* single = nullptr;

    // A single agent's entry (or any per-agent buffer used as one): it owns every row.
    static state_slots one(float* entry) noexcept {
        state_slots s;
        s.single = entry;
        return s;
    }

    float* agent(std::size_t g) const noexcept {
        assert(g < agents);
        return base ? base[g] + offset : single;
    }
    // Agent g's first row and row count among the `total` rows of the call.
    std::pair<std::size_t, std::size_t> rows_of(std::size_t g, std::size_t total) const noexcept {
        if (!row_begin) return {0, total};
        return {row_begin[g], row_begin[g + 1] - row_begin[g]};
    }
};

// Calls fn(g, first_row, rows) for each agent g of `slots` that owns rows among `total_rows`: the loop
// every per-agent op runs (token shift, the WKV scans).
template <class Fn>
void for_each_agent(const state_slots& slots, std::size_t total_rows, Fn&& fn) {
    for (std::size_t g = 0; g < slots.agents; ++g) {
        const auto [first, n] = slots.rows_of(g, total_rows);
        if (n != 0) fn(g, first, n);
    }
}

// The states a forward call advances and the rows each owns. Non-owning: the arrays live in the
// caller's frame (one agent) or the workspace (a batch), so making one never allocates.
template <memory_space Space = host_space>
class agent_batch {
    basic_state<Space>* const* states_ = nullptr;
    float* const* base_ = nullptr;
    const std::size_t* row_begin_ = nullptr;
    std::size_t count_ = 0;

public:
    // row_begin may be nullptr for a single agent (it owns every row).
    agent_batch(basic_state<Space>* const* states, float* const* base, const std::size_t* row_begin,
                std::size_t count) noexcept
        : states_(states), base_(base), row_begin_(row_begin), count_(count) {
        assert(count >= 1 && (row_begin || count == 1));
    }

    std::size_t size() const noexcept { return count_; }
    basic_state<Space>& operator[](std::size_t g) const noexcept {
        assert(g < count_);
        return *states_[g];
    }
    // Entry i of the official state list, for every agent.
    state_slots entry(std::size_t i) const noexcept {
        state_slots s;
        s.base = base_;
        s.row_begin = row_begin_;
        s.agents = count_;
        s.offset = states_[0]->layout().entries[i].offset;
        return s;
    }
};

}  // namespace rwkv
