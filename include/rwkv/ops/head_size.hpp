// rwkv/ops/head_size.hpp — the head sizes the multi-head kernels are compiled for, and the one
// place a run-time head size becomes a compile-time one.
//
// The per-head scans (ops::wkv6 for RWKV-5/6 and GoldFinch's Finch-C2, ops::wkv7 for RWKV-7) and
// GOLD attention (ops::gold_attention) take the head size N as a template parameter; a model reads
// N from its checkpoint and calls them through with_head_size.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "rwkv/core/error.hpp"

namespace rwkv::ops {

// Head sizes compiled in. Every released RWKV-5/6/7 and GoldFinch model uses 64; 8 is for small
// test models (rwkv.cpp's tiny RWKV-5 and RWKV-6 ones), which the cpu backend runs with the
// reference scans.
inline constexpr std::array<std::size_t, 4> supported_head_sizes{8, 32, 64, 128};

// Calls fn(std::integral_constant<std::size_t, N>{}) for the run-time head size n.
template <class Fn>
decltype(auto) with_head_size(std::size_t n, Fn&& fn) {
    switch (n) {
        case 8: return std::forward<Fn>(fn)(std::integral_constant<std::size_t, 8>{});
        case 32: return std::forward<Fn>(fn)(std::integral_constant<std::size_t, 32>{});
        case 64: return std::forward<Fn>(fn)(std::integral_constant<std::size_t, 64>{});
        case 128: return std::forward<Fn>(fn)(std::integral_constant<std::size_t, 128>{});
        default:
            throw unsupported_error("head size " + std::to_string(n) +
                                    " is not compiled in (supported: 8, 32, 64, 128)");
    }
}

}  // namespace rwkv::ops
