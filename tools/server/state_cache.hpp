// tools/server/state_cache.hpp — states kept between requests, bounded in count and in bytes.
//
// One structure serves two purposes:
//  * sessions: id → the state after the conversation so far (the tokens it has consumed, and the
//    logits that follow them), so the next turn feeds only what is new;
//  * prefix reuse: hash(initial state name, token prefix) → the state after that prefix, so a prompt
//    that extends a cached one skips its prefill.
// Each entry also keeps the logits after its last token: a prompt equal to a cached prefix then needs
// no model call at all. Least recently used entries go first when a bound is hit. Not thread-safe:
// only the scheduler thread touches it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "rwkv/core/state.hpp"

namespace rwkv_server {

struct cached_state {
    std::string initial;                // the --state-dir state it grew from ("" = zero state)
    std::vector<std::int32_t> tokens;   // what the state has consumed
    rwkv::state st;
    std::vector<float> logits;          // after tokens.back()

    std::size_t bytes() const noexcept {
        return st.values().size() * sizeof(float) + logits.size() * sizeof(float) +
               tokens.size() * sizeof(std::int32_t) + initial.size() + 128;
    }
    // Does `prompt` (starting from `initial_name`) begin with this entry's tokens?
    bool prefixes(const std::string& initial_name, std::span<const std::int32_t> prompt) const {
        if (initial != initial_name || tokens.size() > prompt.size()) return false;
        for (std::size_t i = 0; i < tokens.size(); ++i)
            if (tokens[i] != prompt[i]) return false;
        return true;
    }
};

// FNV-1a over the initial state's name and each token id, as a running hash: prefix_hashes(p)[k]
// is the key of p's first k tokens.
inline std::vector<std::uint64_t> prefix_hashes(const std::string& initial, std::span<const std::int32_t> tokens) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::uint64_t byte) {
        h ^= byte;
        h *= 1099511628211ull;
    };
    for (const char c : initial) mix(static_cast<unsigned char>(c));
    mix(0xff);
    std::vector<std::uint64_t> out;
    out.reserve(tokens.size() + 1);
    out.push_back(h);
    for (const std::int32_t t : tokens) {
        const auto u = static_cast<std::uint32_t>(t);
        for (int b = 0; b < 4; ++b) mix((u >> (8 * b)) & 0xffu);
        out.push_back(h);
    }
    return out;
}

template <class Key>
class lru_state_store {
public:
    lru_state_store(std::size_t max_entries, std::size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

    // The entry under key (marked most recently used), or null.
    const cached_state* find(const Key& key) {
        const auto it = index_.find(key);
        if (it == index_.end()) return nullptr;
        order_.splice(order_.begin(), order_, it->second);
        return &it->second->second;
    }

    void put(const Key& key, cached_state value) {
        erase(key);
        const std::size_t b = value.bytes();
        if (max_entries_ == 0 || b > max_bytes_) return;  // would never fit
        order_.emplace_front(key, std::move(value));
        index_[key] = order_.begin();
        bytes_ += b;
        while (order_.size() > max_entries_ || bytes_ > max_bytes_) erase(order_.back().first);
    }

    void erase(const Key& key) {
        const auto it = index_.find(key);
        if (it == index_.end()) return;
        bytes_ -= it->second->second.bytes();
        order_.erase(it->second);
        index_.erase(it);
    }

    std::size_t size() const noexcept { return order_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    using entry = std::pair<Key, cached_state>;
    std::size_t max_entries_, max_bytes_, bytes_ = 0;
    std::list<entry> order_;  // most recently used first
    std::unordered_map<Key, typename std::list<entry>::iterator> index_;
};

// Prefix reuse: entries keyed by the hash of (initial, prefix); lengths_ remembers which prefix
// lengths exist so a lookup probes only those.
class prefix_cache {
public:
    prefix_cache(std::size_t max_entries, std::size_t max_bytes) : store_(max_entries, max_bytes) {}

    // The longest cached prefix of `prompt` (at most prompt.size() tokens), or null.
    const cached_state* longest_prefix(const std::string& initial, std::span<const std::int32_t> prompt) {
        if (store_.size() == 0) return nullptr;
        const auto h = prefix_hashes(initial, prompt);
        for (auto it = lengths_.rbegin(); it != lengths_.rend(); ++it) {
            const std::size_t len = it->first;
            if (len > prompt.size() || len == 0) continue;
            const cached_state* c = store_.find(h[len]);
            if (c && c->prefixes(initial, prompt) && c->tokens.size() == len) return c;
        }
        return nullptr;
    }

    void put(cached_state value) {
        if (value.tokens.empty()) return;
        const std::uint64_t key = prefix_hashes(value.initial, value.tokens).back();
        ++lengths_[value.tokens.size()];
        store_.put(key, std::move(value));
        // lengths_ may over-count evicted lengths; that only costs a probe, and it is bounded by the
        // distinct prompt lengths seen, trimmed when it grows past a limit.
        if (lengths_.size() > 4096) lengths_.erase(lengths_.begin());
    }

    std::size_t size() const noexcept { return store_.size(); }
    std::size_t bytes() const noexcept { return store_.bytes(); }

private:
    lru_state_store<std::uint64_t> store_;
    std::map<std::size_t, std::size_t> lengths_;
};

}  // namespace rwkv_server
