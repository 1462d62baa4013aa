// rwkv/backends/cuda/map_functors.hpp — the element-wise functors the CUDA map kernel is compiled
// for, by number.
//
// ops::map takes any functor on the host; a device kernel compiled on its own must know them in
// advance. RWKV_CUDA_MAP_FUNCTORS lists every functor of ops/functors.hpp once: the header-only
// side turns a functor type into its number (cuda_map_functor_id), the compiled side
// (src/cuda/map.cu) instantiates one kernel per entry. A functor missing here is a compile error
// naming it, not a link error.
#pragma once

#include <type_traits>

#include "rwkv/ops/functors.hpp"

#define RWKV_CUDA_MAP_FUNCTORS(X)                                                                        \
    X(add) X(add3) X(subtract) X(multiply) X(negate) X(copy) X(zero) X(sigmoid) X(silu) X(relu_squared) \
    X(relu) X(tanh) X(tanh_of_sum) X(sigmoid_of_sum) X(sigmoid_gate) X(lerp_previous) X(lerp_current)   \
    X(lerp_previous_lora) X(lerp_delta) X(lerp_delta_lora) X(rwkv6_decay) X(rwkv7_decay)                \
    X(scale_by_one_minus) X(rwkv7_replacement_key) X(value_residual)

namespace rwkv::cuda_kernels {

enum class map_functor : int {
#define RWKV_CUDA_MAP_ENUM(name) name,
    RWKV_CUDA_MAP_FUNCTORS(RWKV_CUDA_MAP_ENUM)
#undef RWKV_CUDA_MAP_ENUM
};

template <class Fn>
inline constexpr int map_functor_id = -1;
#define RWKV_CUDA_MAP_ID(name) \
    template <>                \
    inline constexpr int map_functor_id<ops::fn::name> = static_cast<int>(map_functor::name);
RWKV_CUDA_MAP_FUNCTORS(RWKV_CUDA_MAP_ID)
#undef RWKV_CUDA_MAP_ID

}  // namespace rwkv::cuda_kernels
