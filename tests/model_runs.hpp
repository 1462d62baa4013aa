// Running an any_model the way the golden tests compare it: a prefill, then one token per call.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "rwkv/any_model.hpp"

namespace rwkv_test {

struct model_run {
    std::vector<float> logits;  // [T, V]: every position's logits
    std::vector<float> state;   // the final state's values
};

// The first `prefill` tokens in one sequence call (logits of every row), then one token per call.
inline model_run prefill_then_decode(const rwkv::any_model& m, std::span<const std::int32_t> tokens,
                                     std::size_t prefill = 16) {
    const std::size_t V = m.summary().n_vocab;
    model_run r{std::vector<float>(tokens.size() * V), {}};
    auto st = m.make_state();
    auto ws = m.make_workspace(16);
    m.forward(tokens.first(prefill), st, *ws, std::span(r.logits).first(prefill * V), rwkv::logits_mode::all);
    for (std::size_t t = prefill; t < tokens.size(); ++t)
        m.forward(tokens.subspan(t, 1), st, *ws, std::span(r.logits).subspan(t * V, V), rwkv::logits_mode::last);
    r.state.assign(st.values().begin(), st.values().end());
    return r;
}

// Logits of every position of a typed model: the first `prefill` tokens in one call (in chunks of the
// workspace's `capacity`), the rest one token per call; the state is left in `st` (any space).
template <class Model, class State>
std::vector<float> run_mixed(const Model& m, std::span<const std::int32_t> tokens, std::size_t prefill, State& st,
                             std::size_t capacity = 64) {
    const std::size_t V = m.cfg().n_vocab;
    std::vector<float> logits(tokens.size() * V);
    auto ws = m.make_workspace(capacity);
    if (prefill > 0)
        m.forward(tokens.first(prefill), st, ws, std::span(logits).first(prefill * V), rwkv::logits_mode::all);
    for (std::size_t t = prefill; t < tokens.size(); ++t)
        m.forward(tokens.subspan(t, 1), st, ws, std::span(logits).subspan(t * V, V), rwkv::logits_mode::last);
    return logits;
}

}  // namespace rwkv_test
