// rwkv/ops/cache.hpp — a growing context cache (GoldFinch's compressed keys, docs/spec/goldfinch.md §3.1)
// written and read as ops, so that it can live in the backend's memory space with the state.
//
// The cache keeps one row of `cache_width` values per past token in the state's cache dtype (f32,
// bf16 or f16: core/state.hpp) and the token id of that position.
//   cache_append: rows [T, width] (f32, rounded to nearest even as stored) and their T token ids
//                 go after the cached ones; past the reserved capacity it throws state_error
//   cache_read:   every cached row widened to f32, into out [cache_size, width]
#pragma once

#include <cassert>
#include <cstddef>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

// store(be, rows, type, dst): rows [T, w] f32 → T·w values of `type` at dst (contiguous).
// load(be, src, type, out):   out.rows·out.cols values of `type` at src → out [N, w] f32.
template <class Backend>
struct cache_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no context-cache kernel");
};

template <backend Backend>
void cache_append(const Backend& be, basic_state<space_of<Backend>>& st, const_activations<Backend> rows,
                  token_ids<Backend> ids, op_site where = op_site::current()) {
    assert(rows.rows == ids.size() && rows.cols == st.layout().cache_width);
    op_enter(be);
    const auto [dst_rows, dst_ids] = st.grow_cache(ids.size());
    cache_kernel<Backend>::store(be, rows, st.layout().cache_dtype, dst_rows);
    space_of<Backend>::copy(dst_ids, ids.data_handle(), ids.size_bytes());
    op_exit(be, "cache_append", where, rows);  // what went into the cache
}

template <backend Backend>
void cache_read(const Backend& be, const basic_state<space_of<Backend>>& st, activations<Backend> out,
                op_site where = op_site::current()) {
    assert(out.rows == st.cache_size() && out.cols == st.layout().cache_width);
    op_enter(be);
    cache_kernel<Backend>::load(be, st.cache_rows_handle(), st.layout().cache_dtype, out);
    op_exit(be, "cache_read", where, out);
}

}  // namespace rwkv::ops
