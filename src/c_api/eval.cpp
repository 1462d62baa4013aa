// src/c_api/eval.cpp — sessions and the eval calls. Every check runs before the model does, so a
// failed call leaves its states as they were; a successful one allocates nothing (the session's
// workspace and batch array are sized when it is made).
#include <cstring>
#include <span>

#include "boundary.hpp"
#include "handles.hpp"

namespace {

using rwkv_c::require;

// The state an eval call advances: the caller's, or the session's own; it must be the model's.
rwkv::state& target_state(rwkv_session& session, rwkv_state* state, const char* call) {
    rwkv::state& st = state ? state->value : session.own.value;
    st.require_layout(session.model->layout(), call);
    return st;
}

// GoldFinch's cache must have room for `tokens` more before anything runs (it never grows in a step).
void require_cache_room(const rwkv::state& st, std::size_t tokens, const char* call) {
    if (st.layout().cache_width == 0) return;
    if (st.cache_size() + tokens > st.cache_capacity())
        throw rwkv::state_error(std::string(call) + ": the context cache holds " + std::to_string(st.cache_size()) +
                                " of " + std::to_string(st.cache_capacity()) + " tokens, " + std::to_string(tokens) +
                                " more do not fit (raise rwkv_model_options.max_context)");
}

// Logits NULL (with length 0) only advances the state; otherwise at least `need` floats.
rwkv::logits_mode logits_mode_for(const float* logits, std::size_t logits_len, std::size_t need, const char* call) {
    if (!logits) {
        require(logits_len == 0, call, "logits is NULL but logits_len is not 0");
        return rwkv::logits_mode::none;
    }
    if (logits_len < need)
        throw rwkv::invalid_argument(std::string(call) + ": logits_len is " + std::to_string(logits_len) +
                                     ", needs at least " + std::to_string(need));
    return rwkv::logits_mode::last;
}

void require_tokens(const int32_t* tokens, std::size_t n, std::size_t n_vocab, const char* call) {
    require(tokens != nullptr, call, "tokens is NULL");
    require(n != 0, call, "no tokens (n_tokens is 0)");
    for (std::size_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || static_cast<std::size_t>(tokens[i]) >= n_vocab)
            throw rwkv::invalid_argument(std::string(call) + ": token id " + std::to_string(tokens[i]) +
                                         " at position " + std::to_string(i) + " is outside [0, " +
                                         std::to_string(n_vocab) + ")");
}

rwkv_status eval_tokens(rwkv_session* session, rwkv_state* state, const int32_t* tokens, size_t n, float* logits,
                        size_t logits_len, const char* call) {
    auto& s = rwkv_c::deref(session, call, "session");
    const rwkv_model& m = *s.model;
    require_tokens(tokens, n, m.summary.n_vocab, call);
    const auto mode = logits_mode_for(logits, logits_len, m.summary.n_vocab, call);
    rwkv::state& st = target_state(s, state, call);
    require_cache_room(st, n, call);
    m.net.forward(std::span(tokens, n), st, *s.workspace, std::span(logits, logits_len), mode);
    return RWKV_OK;
}

// rwkv.cpp's convention: the state travels in caller-owned f32 buffers, through the session's scratch.
rwkv_status eval_raw(rwkv_session* session, const int32_t* tokens, size_t n, const float* state_in, float* state_out,
                     size_t state_len, float* logits, size_t logits_len, const char* call) {
    auto& s = rwkv_c::deref(session, call, "session");
    const rwkv_model& m = *s.model;
    if (m.has_cache())
        throw rwkv::unsupported_error(std::string(call) + ": " + m.arch_name +
                                      " keeps a growing context cache that no fixed buffer holds: use rwkv_state "
                                      "handles with rwkv_eval / rwkv_eval_sequence");
    require(state_out != nullptr, call, "state_out is NULL");
    if (state_len != m.layout().total)
        throw rwkv::invalid_argument(std::string(call) + ": state_len is " + std::to_string(state_len) +
                                     ", the model's state has " + std::to_string(m.layout().total) +
                                     " floats (rwkv_get_state_len)");
    require_tokens(tokens, n, m.summary.n_vocab, call);
    const auto mode = logits_mode_for(logits, logits_len, m.summary.n_vocab, call);
    const std::span<float> scratch = s.scratch.values();
    const float* from = state_in ? state_in : m.initial.values().data();
    std::memcpy(scratch.data(), from, scratch.size_bytes());
    m.net.forward(std::span(tokens, n), s.scratch, *s.workspace, std::span(logits, logits_len), mode);
    std::memcpy(state_out, scratch.data(), scratch.size_bytes());
    return RWKV_OK;
}

}  // namespace

extern "C" {

rwkv_status rwkv_session_new(const rwkv_model* model, size_t max_tokens, rwkv_session** out) {
    if (out) *out = nullptr;
    return rwkv_c::guarded([&] {
        const auto& m = rwkv_c::deref(model, "rwkv_session_new", "model");
        require(out != nullptr, "rwkv_session_new", "out is NULL");
        auto s = std::make_unique<rwkv_session>();
        s->model = &m;
        s->capacity = max_tokens != 0 ? max_tokens : 64;
        s->workspace = m.net.make_workspace(s->capacity);
        s->own.model = &m;
        s->own.value = m.initial;
        s->scratch = m.initial;
        s->batch.assign(s->capacity, nullptr);
        *out = s.release();
        return RWKV_OK;
    });
}

void rwkv_session_free(rwkv_session* session) { delete session; }

rwkv_state* rwkv_session_state(rwkv_session* session) { return session ? &session->own : nullptr; }

rwkv_status rwkv_eval(rwkv_session* session, rwkv_state* state, int32_t token, float* logits, size_t logits_len) {
    return rwkv_c::guarded([&] { return eval_tokens(session, state, &token, 1, logits, logits_len, "rwkv_eval"); });
}

rwkv_status rwkv_eval_sequence(rwkv_session* session, rwkv_state* state, const int32_t* tokens, size_t n_tokens,
                               float* logits, size_t logits_len) {
    return rwkv_c::guarded(
        [&] { return eval_tokens(session, state, tokens, n_tokens, logits, logits_len, "rwkv_eval_sequence"); });
}

rwkv_status rwkv_eval_batch(rwkv_session* session, rwkv_state* const* states, const int32_t* tokens,
                            size_t n_states, float* logits, size_t logits_len) {
    return rwkv_c::guarded([&] {
        const char* call = "rwkv_eval_batch";
        auto& s = rwkv_c::deref(session, call, "session");
        const rwkv_model& m = *s.model;
        require(states != nullptr, call, "states is NULL");
        require(n_states != 0, call, "no states (n_states is 0)");
        if (n_states > s.capacity)
            throw rwkv::invalid_argument(std::string(call) + ": " + std::to_string(n_states) +
                                         " states exceed the session's max_tokens (" + std::to_string(s.capacity) +
                                         "): make the session with a larger max_tokens");
        require_tokens(tokens, n_states, m.summary.n_vocab, call);
        const std::size_t V = m.summary.n_vocab;
        if (logits && logits_len / V < n_states)  // division: n_states · V cannot overflow here
            throw rwkv::invalid_argument(std::string(call) + ": logits_len is " + std::to_string(logits_len) +
                                         ", needs at least n_states * n_vocab = " + std::to_string(n_states * V));
        const auto mode = logits_mode_for(logits, logits_len, 0, call);
        for (std::size_t i = 0; i < n_states; ++i) {
            if (!states[i])
                throw rwkv::invalid_argument(std::string(call) + ": states[" + std::to_string(i) + "] is NULL");
            rwkv::state& st = states[i]->value;
            st.require_layout(m.layout(), call);
            require_cache_room(st, 1, call);
            s.batch[i] = &st;
        }
        m.net.forward_batch(std::span(tokens, n_states), {}, std::span(s.batch.data(), n_states), *s.workspace,
                            std::span(logits, logits_len), mode);
        return RWKV_OK;
    });
}

rwkv_status rwkv_eval_raw(rwkv_session* session, int32_t token, const float* state_in, float* state_out,
                          size_t state_len, float* logits, size_t logits_len) {
    return rwkv_c::guarded([&] {
        return eval_raw(session, &token, 1, state_in, state_out, state_len, logits, logits_len, "rwkv_eval_raw");
    });
}

rwkv_status rwkv_eval_sequence_raw(rwkv_session* session, const int32_t* tokens, size_t n_tokens,
                                   const float* state_in, float* state_out, size_t state_len, float* logits,
                                   size_t logits_len) {
    return rwkv_c::guarded([&] {
        return eval_raw(session, tokens, n_tokens, state_in, state_out, state_len, logits, logits_len,
                        "rwkv_eval_sequence_raw");
    });
}

rwkv_status rwkv_init_state(const rwkv_model* model, float* state, size_t state_len) {
    return rwkv_c::guarded([&] {
        const auto& m = rwkv_c::deref(model, "rwkv_init_state", "model");
        require(state != nullptr, "rwkv_init_state", "state is NULL");
        const auto init = m.initial.values();
        if (state_len != init.size())
            throw rwkv::invalid_argument("rwkv_init_state: state_len is " + std::to_string(state_len) +
                                         ", the model's state has " + std::to_string(init.size()) + " floats");
        std::memcpy(state, init.data(), init.size_bytes());
        return RWKV_OK;
    });
}

}  // extern "C"
