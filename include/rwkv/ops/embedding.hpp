// rwkv/ops/embedding.hpp — x[t] = E[token[t]] (the table already has ln0 folded in, docs/spec/rwkv.md §1.3).
#pragma once

#include <cassert>
#include <cstdint>
#include <span>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

template <class Backend>
struct embedding_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no embedding kernel");
};

// Token ids must already be validated against table.rows (the model boundary does it).
// `table` is f32 or block-quantized (core/quant.hpp; rows are dequantized).
template <backend Backend, class E>
void embedding(const Backend& be, weights<Backend, E> table, token_ids<Backend> tokens, activations<Backend> x,
               op_site where = op_site::current()) {
    assert(tokens.size() == x.rows && table.cols == x.cols);
    op_enter(be);
    embedding_kernel<Backend>::run(be, table, tokens, x);
    op_exit(be, "embedding", where, x);
}

}  // namespace rwkv::ops
