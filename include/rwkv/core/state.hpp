// rwkv/core/state.hpp — the recurrent state as a value type.
//
// A state is a flat array of f32 in the official state-list order (docs/spec/rwkv.md §1.5, the order of the
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
#include <string_view>
#include <utility>
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

// n cached values of type `type` (f32, bf16 or f16) at src, widened to f32 at dst (host memory).
inline void widen_cache_values(dtype type, const std::byte* src, float* dst, std::size_t n) {
    auto load_16 = [&](auto tag, std::size_t i) {
        std::uint16_t b;
        std::memcpy(&b, src + 2 * i, 2);
        return decltype(tag)::from_bits(b).to_float();
    };
    switch (type) {
        case dtype::f32:
            if (n != 0) std::memcpy(dst, src, n * 4);
            break;
        case dtype::bf16:
            for (std::size_t i = 0; i < n; ++i) dst[i] = load_16(bf16{}, i);
            break;
        case dtype::f16:
            for (std::size_t i = 0; i < n; ++i) dst[i] = load_16(f16{}, i);
            break;
        case dtype::i8:
        case dtype::u8:
            throw state_error("state: a context cache is f32, bf16 or f16");
    }
}

// n f32 values at src rounded to `type` (f32, bf16 or f16) at dst (host memory).
inline void narrow_cache_values(dtype type, const float* src, std::byte* dst, std::size_t n) {
    switch (type) {
        case dtype::f32:
            if (n != 0) std::memcpy(dst, src, n * 4);
            break;
        case dtype::bf16:
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint16_t b = bf16::from_float(src[i]).bits;
                std::memcpy(dst + 2 * i, &b, 2);
            }
            break;
        case dtype::f16:
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint16_t b = f16::from_float(src[i]).bits;
                std::memcpy(dst + 2 * i, &b, 2);
            }
            break;
        case dtype::i8:
        case dtype::u8:
            throw state_error("state: a context cache is f32, bf16 or f16");
    }
}

// A state whose values (and context cache) live in memory space `Space` (core/memory_space.hpp):
// the host heap for the cpu and reference backends, a device's memory for a device backend. A
// model's states live in its backend's space between calls; to_host / from_host copy them across
// explicitly (saving a state is a to_host and a write). Copying a state copies within its space.
// In a host-accessible space values() and entry() are std::spans and the cache can be read and
// written directly; in any other space they are views the host cannot dereference.
template <memory_space Space = host_space>
class basic_state {
    std::shared_ptr<const state_layout> layout_;
    buffer<float, Space> values_;
    // The growing context cache (layout().cache_width > 0 only): one row of cache_width values of
    // cache_dtype and one token id per past token, both in the space, in buffers of a reserved
    // capacity; appending within it never allocates (ops/cache.hpp appends).
    buffer<std::byte, Space> cache_rows_;
    buffer<std::int32_t, Space> cache_ids_;
    std::size_t cache_size_ = 0;

    template <memory_space>
    friend class basic_state;

public:
    using space = Space;
    static constexpr bool host_accessible = Space::host_accessible;

    basic_state() = default;
    explicit basic_state(std::shared_ptr<const state_layout> layout)
        : layout_(std::move(layout)), values_(layout_ ? layout_->total : 0) {}

    const state_layout& layout() const {
        if (!layout_) throw invalid_argument("state: empty (default-constructed) state has no layout");
        return *layout_;
    }
    const std::shared_ptr<const state_layout>& layout_ptr() const noexcept { return layout_; }
    bool empty() const noexcept { return !layout_; }

    // Every value, in the official state-list order.
    auto values() noexcept { return as_range(values_.view()); }
    auto values() const noexcept { return as_range(values_.view()); }
    // The first value, as a pointer into the space (for kernels that run there).
    float* data_handle() noexcept { return values_.data_handle(); }
    const float* data_handle() const noexcept { return values_.data_handle(); }

    // Entry i of the official state list.
    auto entry(std::size_t i) noexcept {
        const auto& e = layout_->entries[i];
        return as_range(values_.view().subview(e.offset, e.count));
    }
    auto entry(std::size_t i) const noexcept {
        const auto& e = layout_->entries[i];
        return as_range(values_.view().subview(e.offset, e.count));
    }

    // Entry i's first value, as a pointer into the space (for kernels that run there).
    float* entry_handle(std::size_t i) noexcept { return values_.data_handle() + layout_->entries[i].offset; }
    const float* entry_handle(std::size_t i) const noexcept {
        return values_.data_handle() + layout_->entries[i].offset;
    }
    // Sets every value to zero, within the space (the cache is kept).
    void zero_values() { fill_zero<Space>(values_.data_handle(), values_.bytes()); }
    // Sets entry i to zeros, within the space.
    void zero_entry(std::size_t i) {
        fill_zero<Space>(entry_handle(i), layout_->entries[i].count * sizeof(float));
    }

    // A copy is an independent fork (in the same space).
    basic_state fork() const { return *this; }

    // ---- across spaces -------------------------------------------------------------------------
    // This state's values and cache copied to the host.
    basic_state<host_space> to_host() const {
        basic_state<host_space> h;
        copy_into(h, *this);
        return h;
    }
    // A state of this space holding `h`'s values and cache.
    static basic_state from_host(const basic_state<host_space>& h) {
        basic_state s;
        copy_into(s, h);
        return s;
    }
    // The values alone, to or from host memory of layout().total floats.
    void copy_values_to_host(std::span<float> dst) const { values_.copy_to_host(dst); }
    void copy_values_from_host(std::span<const float> src) { values_.copy_from_host(src); }

    // ---- context cache (architectures with layout().cache_width > 0) ----
    std::size_t cache_size() const noexcept { return cache_size_; }
    std::size_t cache_capacity() const noexcept { return cache_ids_.size(); }
    std::size_t cache_row_bytes() const noexcept {
        return layout_ ? layout_->cache_width * dtype_size(layout_->cache_dtype) : 0;
    }
    // The cached rows and token ids, as pointers into the space (ops/cache.hpp).
    std::byte* cache_rows_handle() noexcept { return cache_rows_.data_handle(); }
    const std::byte* cache_rows_handle() const noexcept { return cache_rows_.data_handle(); }
    std::int32_t* cache_ids_handle() noexcept { return cache_ids_.data_handle(); }
    const std::int32_t* cache_ids_handle() const noexcept { return cache_ids_.data_handle(); }
    vector_view<const std::int32_t, Space> cache_ids() const noexcept {
        return {cache_ids_.data_handle(), cache_size_};
    }

    // Host spaces: the cached rows as stored (cache_dtype) and their token ids.
    std::span<const std::byte> cache_bytes() const noexcept
        requires host_accessible
    {
        return {cache_rows_.data(), cache_size_ * cache_row_bytes()};
    }
    std::span<const std::int32_t> cache_tokens() const noexcept
        requires host_accessible
    {
        return {cache_ids_.data(), cache_size_};
    }

    // Host spaces: every cached row widened to f32 (out holds cache_size() × cache_width floats).
    void read_cache(std::span<float> out) const
        requires host_accessible
    {
        const std::size_t n = cache_size() * layout().cache_width;
        if (out.size() < n) throw invalid_argument("state: read_cache output too small");
        widen_cache_values(layout_->cache_dtype, cache_rows_.data(), out.data(), n);
    }

    // Grows the capacity to `tokens` (allocates in the space; call it outside the decode loop).
    void reserve_cache(std::size_t tokens) {
        if (!layout_ || layout_->cache_width == 0 || tokens <= cache_capacity()) return;
        buffer<std::byte, Space> rows(tokens * cache_row_bytes());
        buffer<std::int32_t, Space> ids(tokens);
        Space::copy(rows.data_handle(), cache_rows_.data_handle(), cache_size_ * cache_row_bytes());
        Space::copy(ids.data_handle(), cache_ids_.data_handle(), cache_size_ * sizeof(std::int32_t));
        cache_rows_ = std::move(rows);
        cache_ids_ = std::move(ids);
    }

    // Makes room for `tokens` more cached positions and returns where they go (rows, ids); throws
    // state_error past the reserved capacity, so a step never allocates. The caller (ops/cache.hpp)
    // writes them.
    std::pair<std::byte*, std::int32_t*> grow_cache(std::size_t tokens) {
        if (cache_size_ + tokens > cache_capacity())
            throw state_error("state: context cache full (" + std::to_string(cache_capacity()) + " tokens reserved, " +
                              std::to_string(cache_size_ + tokens) +
                              " needed): call reserve_cache() with a larger capacity");
        const std::size_t at = cache_size_;
        cache_size_ += tokens;
        return {cache_rows_.data_handle() + at * cache_row_bytes(), cache_ids_.data_handle() + at};
    }

    // Host spaces: restores a cache (state files): rows as stored (cache_dtype); capacity grows as needed.
    void set_cache(std::span<const std::byte> rows, std::span<const std::int32_t> tokens)
        requires host_accessible
    {
        if (rows.size() != tokens.size() * cache_row_bytes())
            throw state_error("state: cache rows do not match the token count");
        cache_size_ = 0;
        reserve_cache(tokens.size());
        const auto [r, ids] = grow_cache(tokens.size());
        host_space::copy(r, rows.data(), rows.size());
        host_space::copy(ids, tokens.data(), tokens.size_bytes());
    }

    // Throws state_error unless this state was made for `expected`.
    void require_layout(const state_layout& expected, std::string_view who) const {
        if (!layout_) throw state_error(std::string(who) + ": the state is empty; make it with the model's make_state()");
        if (*layout_ != expected)
            throw state_error(std::string(who) + ": state is for " + layout_->describe() + ", but the model needs " +
                              expected.describe());
    }

private:
    template <class T>
    static auto as_range(vector_view<T, Space> v) noexcept {
        if constexpr (host_accessible)
            return v.span();
        else
            return v;
    }

    // dst ← src across spaces: layout, values and cache (the cache keeps src's capacity).
    template <memory_space D, memory_space S>
    static void copy_into(basic_state<D>& dst, const basic_state<S>& src) {
        dst.layout_ = src.layout_;
        dst.values_ = buffer<float, D>(src.values_.size());
        deep_copy(dst.values_, src.values_);
        dst.cache_rows_ = buffer<std::byte, D>(src.cache_rows_.size());
        dst.cache_ids_ = buffer<std::int32_t, D>(src.cache_ids_.size());
        deep_copy<D, S>(dst.cache_rows_.data_handle(), src.cache_rows_.data_handle(),
                        src.cache_size_ * src.cache_row_bytes());
        deep_copy<D, S>(dst.cache_ids_.data_handle(), src.cache_ids_.data_handle(),
                        src.cache_size_ * sizeof(std::int32_t));
        dst.cache_size_ = src.cache_size_;
    }
};

// The host state: what every host backend (cpu, reference) steps, and what state files hold.
using state = basic_state<host_space>;

}  // namespace rwkv
