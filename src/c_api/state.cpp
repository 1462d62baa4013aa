// src/c_api/state.cpp — state handles: make, fork, reset, bytes in and out, state files.
//
// The byte image of a state is the state list as f32 in the official order (what rwkv.cpp-style
// callers and the goldens' .state.f32 hold); GoldFinch appends its context cache: the cached token
// ids (int32), then their rows as the cache stores them. A model without a cache therefore has a
// fixed image of 4 × state_len bytes.
#include <cstring>
#include <vector>

#include "boundary.hpp"
#include "handles.hpp"
#include "rwkv/state/state_file.hpp"

namespace {

std::size_t image_bytes(const rwkv::state& s) {
    return s.values().size_bytes() + s.cache_size() * (sizeof(std::int32_t) + s.cache_row_bytes());
}

// Throws state_error unless `s` was made for `m`'s layout.
void require_model_layout(const rwkv::state& s, const rwkv_model& m, const char* call) {
    s.require_layout(m.layout(), call);
}

}  // namespace

extern "C" {

rwkv_status rwkv_state_new(const rwkv_model* model, rwkv_state** out) {
    if (out) *out = nullptr;
    return rwkv_c::guarded([&] {
        const auto& m = rwkv_c::deref(model, "rwkv_state_new", "model");
        rwkv_c::require(out != nullptr, "rwkv_state_new", "out is NULL");
        auto s = std::make_unique<rwkv_state>();
        s->model = &m;
        s->value = m.initial;
        *out = s.release();
        return RWKV_OK;
    });
}

rwkv_status rwkv_state_clone(const rwkv_state* state, rwkv_state** out) {
    if (out) *out = nullptr;
    return rwkv_c::guarded([&] {
        const auto& src = rwkv_c::deref(state, "rwkv_state_clone", "state");
        rwkv_c::require(out != nullptr, "rwkv_state_clone", "out is NULL");
        *out = new rwkv_state{src.model, src.value.fork()};
        return RWKV_OK;
    });
}

void rwkv_state_free(rwkv_state* state) { delete state; }

rwkv_status rwkv_state_reset(rwkv_state* state) {
    return rwkv_c::guarded([&] {
        auto& s = rwkv_c::deref(state, "rwkv_state_reset", "state");
        s.value = s.model->initial;
        return RWKV_OK;
    });
}

rwkv_status rwkv_state_copy(rwkv_state* dst, const rwkv_state* src) {
    return rwkv_c::guarded([&] {
        auto& d = rwkv_c::deref(dst, "rwkv_state_copy", "dst");
        const auto& s = rwkv_c::deref(src, "rwkv_state_copy", "src");
        if (&d == &s) return RWKV_OK;
        require_model_layout(s.value, *d.model, "rwkv_state_copy");
        d.value = s.value;
        return RWKV_OK;
    });
}

rwkv_status rwkv_state_size(const rwkv_state* state, size_t* bytes) {
    return rwkv_c::guarded([&] {
        const auto& s = rwkv_c::deref(state, "rwkv_state_size", "state");
        rwkv_c::require(bytes != nullptr, "rwkv_state_size", "bytes is NULL");
        *bytes = image_bytes(s.value);
        return RWKV_OK;
    });
}

rwkv_status rwkv_state_get(const rwkv_state* state, void* buffer, size_t capacity, size_t* written) {
    return rwkv_c::guarded([&] {
        const auto& s = rwkv_c::deref(state, "rwkv_state_get", "state");
        rwkv_c::require(written != nullptr, "rwkv_state_get", "written is NULL");
        const std::size_t need = image_bytes(s.value);
        *written = need;
        if (capacity < need)
            return rwkv_c::fail(RWKV_ERROR_BUFFER_TOO_SMALL,
                                ("rwkv_state_get: the buffer holds " + std::to_string(capacity) +
                                 " bytes, the state needs " + std::to_string(need))
                                    .c_str());
        rwkv_c::require(buffer != nullptr, "rwkv_state_get", "buffer is NULL");
        auto* out = static_cast<unsigned char*>(buffer);
        const auto values = std::as_bytes(s.value.values());
        std::memcpy(out, values.data(), values.size());
        out += values.size();
        if (s.value.cache_size() != 0) {
            const auto ids = std::as_bytes(s.value.cache_tokens());
            std::memcpy(out, ids.data(), ids.size());
            out += ids.size();
            const auto rows = s.value.cache_bytes();
            std::memcpy(out, rows.data(), rows.size());
        }
        return RWKV_OK;
    });
}

rwkv_status rwkv_state_set(rwkv_state* state, const void* bytes, size_t size) {
    return rwkv_c::guarded([&] {
        auto& s = rwkv_c::deref(state, "rwkv_state_set", "state");
        rwkv_c::require(bytes != nullptr, "rwkv_state_set", "bytes is NULL");
        const rwkv::state_layout& layout = s.model->layout();
        const std::size_t values = layout.total * sizeof(float);
        const std::size_t per_token = sizeof(std::int32_t) + s.value.cache_row_bytes();
        const std::size_t rest = size >= values ? size - values : 0;
        const bool fits = size >= values && (layout.cache_width == 0 ? rest == 0 : rest % per_token == 0);
        if (!fits)
            throw rwkv::invalid_argument(
                "rwkv_state_set: " + std::to_string(size) + " bytes is not a state of this model (" +
                std::to_string(values) + " bytes" +
                (layout.cache_width ? " plus " + std::to_string(per_token) + " per cached token" : std::string()) +
                ")");
        const std::size_t cached = layout.cache_width ? rest / per_token : 0;
        const std::size_t capacity = s.model->initial.cache_capacity();
        if (cached > capacity)
            throw rwkv::state_error("rwkv_state_set: " + std::to_string(cached) +
                                    " cached tokens exceed the model's max_context (" + std::to_string(capacity) + ")");
        const auto* in = static_cast<const unsigned char*>(bytes);
        std::memcpy(s.value.values().data(), in, values);
        if (layout.cache_width != 0) {
            std::vector<std::int32_t> ids(cached);
            if (cached != 0) std::memcpy(ids.data(), in + values, cached * sizeof(std::int32_t));
            const auto* rows = reinterpret_cast<const std::byte*>(in + values + cached * sizeof(std::int32_t));
            s.value.set_cache(std::span(rows, cached * s.value.cache_row_bytes()), ids);
        }
        return RWKV_OK;
    });
}

rwkv_status rwkv_state_save(const rwkv_state* state, const char* path) {
    return rwkv_c::guarded([&] {
        const auto& s = rwkv_c::deref(state, "rwkv_state_save", "state");
        rwkv_c::require(path != nullptr, "rwkv_state_save", "path is NULL");
        rwkv::save_state(s.value, path);
        return RWKV_OK;
    });
}

rwkv_status rwkv_state_load(rwkv_state* state, const char* path) {
    return rwkv_c::guarded([&] {
        auto& s = rwkv_c::deref(state, "rwkv_state_load", "state");
        rwkv_c::require(path != nullptr, "rwkv_state_load", "path is NULL");
        rwkv::state loaded = rwkv::load_state(path, s.model->layout());
        const std::size_t capacity = s.model->initial.cache_capacity();
        if (loaded.cache_size() > capacity)
            throw rwkv::state_error(std::string(path) + ": " + std::to_string(loaded.cache_size()) +
                                    " cached tokens exceed the model's max_context (" + std::to_string(capacity) + ")");
        loaded.reserve_cache(capacity);  // as make_state leaves it: evals never grow it
        s.value = std::move(loaded);
        return RWKV_OK;
    });
}

}  // extern "C"
