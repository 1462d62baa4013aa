// rwkv/ops/linear.hpp — the two matrix products of every RWKV block (docs/spec/rwkv.md §1.2).
//
//   linear:  y = W x     for nn.Linear weights stored [out, in]   (receptance, key, value, output,
//                        gate, head, ffn.*) — one token is a matvec, T tokens a matmul
//   project: y = x · M   for LoRA factors stored [in, out]        (time_maa_w1/w2, time_decay_w1/w2,
//                        RWKV-7 w1 w2 a1 a2 v1 v2 g1 g2) — never transposed, as the official loader
// Weights are of the precision policy's storage type W; activations and results are f32.
#pragma once

#include <cassert>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class Backend, class W>
struct linear_kernel {
    static_assert(dependent_false<Backend, W>,
                  "rwkv: this backend has no matrix kernels for this weight storage type");
};

// y[t] = W · x[t] for each of the T rows of x.   W: [out, in]; x: [T, in]; y: [T, out].
template <backend Backend, class W>
void linear(const Backend& be, weights<Backend, W> weight, const_activations<Backend> x, activations<Backend> y,
            op_site where = op_site::current()) {
    assert(x.cols == weight.cols && y.cols == weight.rows && x.rows == y.rows);
    op_enter(be);
    linear_kernel<Backend, W>::linear(be, weight, x, y);
    op_exit(be, "linear", where, y);
}

// y[t] = x[t] · M for each row.   M: [in, out]; x: [T, in]; y: [T, out].
template <backend Backend, class W>
void project(const Backend& be, const_activations<Backend> x, weights<Backend, W> m, activations<Backend> y,
             op_site where = op_site::current()) {
    assert(x.cols == m.rows && y.cols == m.cols && x.rows == y.rows);
    op_enter(be);
    linear_kernel<Backend, W>::project(be, x, m, y);
    op_exit(be, "project", where, y);
}

}  // namespace rwkv::ops
