// rwkv/core/backend.hpp — the backend trait.
//
// A backend is a type that says where tensors live and provides one kernel per op. Each op in
// ops/ declares a kernel template `ops::X_kernel<Backend>` whose primary definition fails with a
// readable static_assert; a backend opts in by specialising it (backends/reference/ does so for
// every op, as plain loops). Asking a backend for an op or a weight type it lacks is therefore a
// compile-time error, not a run-time surprise (the CuTe approach).
#pragma once

#include <concepts>
#include <string_view>

namespace rwkv {

template <class B>
concept backend = requires(const B& b) {
    { B::name } -> std::convertible_to<std::string_view>;
};

// For static_assert in primary kernel templates: false, but only once instantiated.
template <class...>
inline constexpr bool dependent_false = false;

namespace backends {

// Plain, single-threaded, obviously-correct loops; reductions in double. The teaching code and the
// conformance baseline for every other backend.
struct reference {
    static constexpr std::string_view name = "reference";
};

}  // namespace backends
}  // namespace rwkv
