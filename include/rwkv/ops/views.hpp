// rwkv/ops/views.hpp — the views an op of backend B takes, in B's memory space (core/backend.hpp).
//
//   activations<B>        [T, n] f32 rows, written by the op
//   const_activations<B>  [T, n] f32 rows, read
//   channel_vector<B>     [n] f32 per-channel values (a bias, a norm's weight, a decay), read
//   weights<B, W>         a [rows, cols] weight matrix of storage type W (f32, bf16, f16, int8/int4 blocks)
//   token_ids<B>          [T] token ids
//   state_vector<B>       [n] f32 of a recurrent state (a token-shift x_prev, RWKV-4's aa/bb/pp), updated
//   state_matrices<B>     [H, N, N] f32 matrix-valued state, updated
//
// For the host backends these are the host views (and channel_vector converts to and from
// std::span); for a device backend they are views a host loop cannot dereference.
#pragma once

#include <cstdint>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"

namespace rwkv::ops {

template <class B>
using activations = matrix_view<float, space_of<B>>;
template <class B>
using const_activations = const_matrix_view<float, space_of<B>>;
template <class B>
using channel_vector = vector_view<const float, space_of<B>>;
template <class B, class W>
using weights = const_matrix_view<W, space_of<B>>;
template <class B>
using token_ids = vector_view<const std::int32_t, space_of<B>>;

template <class B>
using state_vector = vector_view<float, space_of<B>>;
template <class B>
using state_matrices = tensor3_view<float, space_of<B>>;

}  // namespace rwkv::ops
