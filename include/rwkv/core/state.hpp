// rwkv/core/state.hpp — the recurrent state as a value type.
//
// A state is a flat array of f32 in the official state-list order (arch-spec §1.5, the order of the
// goldens' .state.f32), plus a layout naming each entry and its shape. Copying a state forks a
// conversation; models check that a state's layout is theirs before using it. The layout is built
// by each architecture from its dimensions, so two states are compatible iff their layouts are equal.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/architecture.hpp"
#include "rwkv/core/buffer.hpp"
#include "rwkv/core/error.hpp"

namespace rwkv {

struct state_entry {
    std::string name;                // e.g. "blocks.0.att.kv"
    std::vector<std::size_t> shape;  // e.g. {H, N, N}
    std::size_t offset = 0;          // in floats, from the start of the state
    std::size_t count = 0;           // product of shape

    bool operator==(const state_entry&) const = default;
};

struct state_layout {
    architecture arch{};
    std::size_t n_layer = 0;
    std::size_t n_embd = 0;
    std::size_t n_head = 0;     // 0 where the architecture has no heads (RWKV-4)
    std::size_t head_size = 0;  // likewise
    std::vector<state_entry> entries;
    std::size_t total = 0;  // floats

    void add(std::string name, std::vector<std::size_t> shape) {
        std::size_t count = 1;
        for (auto d : shape) count *= d;
        entries.push_back({std::move(name), std::move(shape), total, count});
        total += count;
    }
    bool operator==(const state_layout&) const = default;

    std::string describe() const {
        return std::string(architecture_name(arch)) + " (n_layer " + std::to_string(n_layer) + ", n_embd " +
               std::to_string(n_embd) + ", n_head " + std::to_string(n_head) + ", head_size " +
               std::to_string(head_size) + ", " + std::to_string(total) + " floats)";
    }
};

class state {
    std::shared_ptr<const state_layout> layout_;
    aligned_buffer<float> values_;

public:
    state() = default;
    explicit state(std::shared_ptr<const state_layout> layout)
        : layout_(std::move(layout)), values_(layout_ ? layout_->total : 0) {}

    const state_layout& layout() const {
        if (!layout_) throw invalid_argument("state: empty (default-constructed) state has no layout");
        return *layout_;
    }
    const std::shared_ptr<const state_layout>& layout_ptr() const noexcept { return layout_; }
    bool empty() const noexcept { return !layout_; }

    std::span<float> values() noexcept { return values_.span(); }
    std::span<const float> values() const noexcept { return values_.span(); }

    // Entry i of the official state list.
    std::span<float> entry(std::size_t i) noexcept {
        const auto& e = layout_->entries[i];
        return values_.span().subspan(e.offset, e.count);
    }
    std::span<const float> entry(std::size_t i) const noexcept {
        const auto& e = layout_->entries[i];
        return values_.span().subspan(e.offset, e.count);
    }

    // A copy is an independent fork.
    state fork() const { return *this; }

    // Throws state_error unless this state was made for `expected`.
    void require_layout(const state_layout& expected, std::string_view who) const {
        if (!layout_) throw state_error(std::string(who) + ": the state is empty; make it with the model's make_state()");
        if (*layout_ != expected)
            throw state_error(std::string(who) + ": state is for " + layout_->describe() + ", but the model needs " +
                              expected.describe());
    }
};

}  // namespace rwkv
