// rwkv/core/backend.hpp — the backend trait.
//
// A backend is a type that says where tensors live and provides one kernel per op. Each op in
// ops/ declares a kernel template `ops::X_kernel<Backend>` whose primary definition fails with a
// readable static_assert; a backend opts in by specialising it (backends/reference/ does so for
// every op, as plain loops). Asking a backend for an op or a weight type it lacks is therefore a
// compile-time error, not a run-time surprise (the CuTe approach).
//
// A backend also names the memory space its kernels read and write (`using memory_space = ...`;
// the host heap when it says nothing): the Kokkos pairing of an execution space with a memory
// space. Weights, states and workspaces of a model on that backend live there, and every op takes
// views tagged with it (core/tensor.hpp), so host code cannot dereference them by accident.
#pragma once

#include <concepts>
#include <string_view>

#include "rwkv/core/memory_space.hpp"

namespace rwkv {

template <class B>
concept backend = requires(const B& b) {
    { B::name } -> std::convertible_to<std::string_view>;
};

// The memory space of a backend's kernels: B::memory_space, or the host heap.
template <class B>
struct backend_memory_space {
    using type = host_space;
};
template <class B>
    requires requires { typename B::memory_space; }
struct backend_memory_space<B> {
    using type = typename B::memory_space;
    static_assert(rwkv::memory_space<type>, "rwkv: Backend::memory_space is not a memory space");
};
template <class B>
using space_of = typename backend_memory_space<B>::type;

// For static_assert in primary kernel templates: false, but only once instantiated.
template <class...>
inline constexpr bool dependent_false = false;

namespace backends {

// Plain, single-threaded, obviously-correct loops; reductions in double. The teaching code and the
// conformance baseline for every other backend.
struct reference {
    static constexpr std::string_view name = "reference";
    using memory_space = host_space;
};

}  // namespace backends
}  // namespace rwkv
