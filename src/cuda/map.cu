// src/cuda/map.cu — ops::map on the device: one thread per output element, the functor of
// ops/functors.hpp applied to the inputs at (t, c) (a channel vector has row stride 0).
#include <algorithm>
#include <utility>

#include "common.cuh"
#include "rwkv/backends/cuda/map_functors.hpp"

namespace rwkv::cuda_kernels {
namespace {

constexpr std::size_t max_arity = 4;

struct map_inputs {
    map_operand in[max_arity];
};

template <class Fn, std::size_t... I>
__global__ void map_kernel(matrix out, map_inputs inputs, std::index_sequence<I...>) {
    const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
    if (i >= out.rows * out.cols) return;
    const std::size_t t = i / out.cols, c = i % out.cols;
    out.data[t * out.stride + c] = Fn{}(inputs.in[I].data[t * inputs.in[I].stride + c]...);
}

template <class Fn, std::size_t Arity>
void launch(matrix out, const map_operand* inputs) {
    static_assert(std::is_empty_v<Fn>, "a map functor carries no data: the kernel makes its own");
    map_inputs packed{};
    std::copy_n(inputs, Arity, packed.in);
    const std::size_t n = out.rows * out.cols;
    if (n == 0) return;
    constexpr unsigned threads = 256;
    map_kernel<Fn><<<detail::blocks_for(n, threads), threads, 0, detail::stream()>>>(out, packed,
                                                                                     std::make_index_sequence<Arity>{});
    detail::check_launch("map");
}

// The number of float arguments of Fn::operator().
template <class R, class C, class... A>
constexpr std::size_t arity_of(R (C::*)(A...) const noexcept) {
    return sizeof...(A);
}

}  // namespace

void map(int functor_id, matrix out, const map_operand* inputs, std::size_t arity) {
    switch (static_cast<map_functor>(functor_id)) {
#define RWKV_CUDA_MAP_CASE(name)                                                                 \
    case map_functor::name: {                                                                  \
        constexpr std::size_t n = arity_of(&ops::fn::name::operator());                        \
        static_assert(n <= max_arity);                                                         \
        if (arity != n) throw rwkv::error("CUDA map: functor " #name " takes a different number of inputs"); \
        launch<ops::fn::name, n>(out, inputs);                                                 \
        return;                                                                                \
    }
        RWKV_CUDA_MAP_FUNCTORS(RWKV_CUDA_MAP_CASE)
#undef RWKV_CUDA_MAP_CASE
    }
    throw rwkv::error("CUDA map: unknown functor " + std::to_string(functor_id));
}

}  // namespace rwkv::cuda_kernels
