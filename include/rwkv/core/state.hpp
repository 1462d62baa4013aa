// rwkv/core/state.hpp — the recurrent state as a value type.
//
// A state is a flat array of f32 in the official state-list order (arch-spec §1.5, the order of the
// goldens' .state.f32), plus a layout naming each entry and its shape. Copying a state forks a
// conversation; models check that a state's layout is theirs before using it. The layout is built
// by each architecture from its dimensions, so two states are compatible iff their layouts are equal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/architecture.hpp"
#include "rwkv/core/buffer.hpp"
#include "rwkv/core/dtype.hpp"
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
    // Values per token of a growing context cache (GoldFinch's compressed keys); 0 = none. The
    // cache stores them as cache_dtype (the model's precision policy: f32, bf16 or f16).
    std::size_t cache_width = 0;
    dtype cache_dtype = dtype::f32;

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
               std::to_string(head_size) + ", " + std::to_string(total) + " floats" +
               (cache_width ? ", cache " + std::to_string(cache_width) + " " + std::string(dtype_name(cache_dtype)) +
                                  "/token"
                            : std::string()) +
               ")";
    }
};

class state {
    std::shared_ptr<const state_layout> layout_;
    aligned_buffer<float> values_;
    // The growing context cache (layout().cache_width > 0 only): one row of cache_width values of
    // cache_dtype and one token id per past token. Appending within the reserved capacity never
    // allocates.
    std::vector<std::byte> cache_bytes_;
    std::vector<std::int32_t> cache_tokens_;
    std::size_t cache_capacity_ = 0;

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

    // ---- context cache (architectures with layout().cache_width > 0) ----
    std::size_t cache_size() const noexcept { return cache_tokens_.size(); }
    std::size_t cache_capacity() const noexcept { return cache_capacity_; }
    std::span<const std::byte> cache_bytes() const noexcept { return cache_bytes_; }
    std::span<const std::int32_t> cache_tokens() const noexcept { return cache_tokens_; }
    std::size_t cache_row_bytes() const noexcept {
        return layout_ ? layout_->cache_width * dtype_size(layout_->cache_dtype) : 0;
    }

    // Every cached row widened to f32: out holds cache_size() × cache_width floats. No allocation.
    void read_cache(std::span<float> out) const {
        const std::size_t n = cache_size() * layout().cache_width;
        if (out.size() < n) throw invalid_argument("state: read_cache output too small");
        const std::byte* src = cache_bytes_.data();
        switch (layout_->cache_dtype) {
            case dtype::f32: std::memcpy(out.data(), src, n * 4); break;
            case dtype::bf16:
                for (std::size_t i = 0; i < n; ++i) out[i] = load_16<bf16>(src + 2 * i);
                break;
            case dtype::f16:
                for (std::size_t i = 0; i < n; ++i) out[i] = load_16<f16>(src + 2 * i);
                break;
            case dtype::i8:
            case dtype::u8: throw state_error("state: a context cache is f32, bf16 or f16");
        }
    }

    // Grows the capacity (allocates; call it outside the decode loop).
    void reserve_cache(std::size_t tokens) {
        if (!layout_ || layout_->cache_width == 0) return;
        cache_bytes_.reserve(tokens * cache_row_bytes());
        cache_tokens_.reserve(tokens);
        cache_capacity_ = std::max(cache_capacity_, tokens);
    }

    // Appends rows (rounded to cache_dtype); throws state_error past the reserved capacity, so a
    // step never allocates.
    void append_cache(std::span<const float> rows, std::span<const std::int32_t> tokens) {
        const std::size_t w = layout().cache_width;
        if (rows.size() != tokens.size() * w) throw invalid_argument("state: cache rows do not match the token count");
        if (cache_size() + tokens.size() > cache_capacity_)
            throw state_error("state: context cache full (" + std::to_string(cache_capacity_) +
                              " tokens reserved, " + std::to_string(cache_size() + tokens.size()) +
                              " needed): call reserve_cache() with a larger capacity");
        for (float v : rows) {
            switch (layout_->cache_dtype) {
                case dtype::f32: store(v); break;
                case dtype::bf16: store(bf16::from_float(v).bits); break;
                case dtype::f16: store(f16::from_float(v).bits); break;
                case dtype::i8:
                case dtype::u8: throw state_error("state: a context cache is f32, bf16 or f16");
            }
        }
        cache_tokens_.insert(cache_tokens_.end(), tokens.begin(), tokens.end());
    }

    // Restores a cache (state files): rows as stored (cache_dtype); capacity grows as needed.
    void set_cache(std::vector<std::byte> rows, std::vector<std::int32_t> tokens) {
        if (rows.size() != tokens.size() * cache_row_bytes())
            throw state_error("state: cache rows do not match the token count");
        cache_bytes_ = std::move(rows);
        cache_tokens_ = std::move(tokens);
        reserve_cache(std::max(cache_capacity_, cache_tokens_.size()));
    }

private:
    template <class T>
    void store(T v) {
        const auto* p = reinterpret_cast<const std::byte*>(&v);
        cache_bytes_.insert(cache_bytes_.end(), p, p + sizeof(T));
    }
    template <class T>
    static float load_16(const std::byte* p) noexcept {
        std::uint16_t b;
        std::memcpy(&b, p, 2);
        return T::from_bits(b).to_float();
    }

public:
    // Throws state_error unless this state was made for `expected`.
    void require_layout(const state_layout& expected, std::string_view who) const {
        if (!layout_) throw state_error(std::string(who) + ": the state is empty; make it with the model's make_state()");
        if (*layout_ != expected)
            throw state_error(std::string(who) + ": state is for " + layout_->describe() + ", but the model needs " +
                              expected.describe());
    }
};

}  // namespace rwkv
