// fuzz/fuzz_support.hpp — what every fuzz target shares: the error contract (an rwkv::error is an
// expected rejection of bad input; any other exception, a sanitizer report, a hang or a leak is a bug)
// and a check macro for the targets' own oracles (round trips, invariants), which aborts so that
// libFuzzer saves the input as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "rwkv/core/error.hpp"

namespace rwkv_fuzz {

// RWKV_FUZZ_VERBOSE=1 prints each rejection message (useful to see how far a seed gets).
inline bool verbose() {
    static const bool on = [] {
        const char* v = std::getenv("RWKV_FUZZ_VERBOSE");
        return v != nullptr && *v != '\0' && *v != '0';
    }();
    return on;
}

// Runs `body`. Returns true when it finished, false when it threw an rwkv::error (the library's
// documented rejection). Any other exception escapes: libFuzzer reports it as a crash
// (std::terminate → abort), which is the point.
template <class Fn>
bool accepted(const char* what, Fn&& body) {
    try {
        body();
        return true;
    } catch (const rwkv::error& e) {
        if (verbose()) std::fprintf(stderr, "[%s] rejected: %s\n", what, e.what());
        return false;
    }
}

[[noreturn]] inline void check_failed(const char* file, int line, const char* condition) {
    std::fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n", file, line, condition);
    std::abort();
}

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const std::byte*>(data), size};
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// True when `inner` lies entirely inside `outer` (spans a reader hands out must point into the input).
inline bool inside(std::span<const std::byte> inner, std::span<const std::byte> outer) {
    if (inner.empty()) return true;
    const auto* b = inner.data();
    return b >= outer.data() && b <= outer.data() + outer.size() &&
           inner.size() <= static_cast<std::size_t>(outer.data() + outer.size() - b);
}

}  // namespace rwkv_fuzz

// Aborts (a libFuzzer crash with the input saved) when an oracle does not hold.
#define RWKV_FUZZ_CHECK(cond)                                                    \
    do {                                                                         \
        if (!(cond)) ::rwkv_fuzz::check_failed(__FILE__, __LINE__, #cond);       \
    } while (0)
