// The C API's eval and sampling calls allocate nothing: global operator new is replaced by a
// counting one (which also serves librwkv_c: the dynamic linker binds its operator new to this
// executable's), and decode steps, batches, raw-buffer steps and sampling must not call it. C++
// only because replacing operator new is; everything it calls is the C API.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "rwkv/rwkv.h"

#include "../alloc/counting_new.hpp"

namespace {

bool ok(rwkv_status s, const char* what) {
    if (s == RWKV_OK) return true;
    std::fprintf(stderr, "%s: %s: %s\n", what, rwkv_status_name(s), rwkv_last_error());
    return false;
}

// Heap allocations made by 64 sampled decode steps, 16 batched steps of 3 states, 16 raw-buffer
// steps and a prompt that fits the session; -1 if a call failed.
long allocations_while_decoding(const std::string& path, rwkv_precision precision) {
    rwkv_model_options o;
    rwkv_model_options_init(&o);
    o.precision = precision;
    o.n_threads = 2;
    rwkv_model* m = nullptr;
    if (!ok(rwkv_model_load(path.c_str(), &o, &m), "load")) return -1;
    const std::size_t V = rwkv_get_logits_len(m), L = rwkv_get_state_len(m);
    rwkv_session* session = nullptr;
    rwkv_sampler* sampler = nullptr;
    rwkv_tokenizer* tokenizer = nullptr;
    rwkv_state* agents[3] = {};
    rwkv_sampler_options so;
    rwkv_sampler_options_init(&so);
    so.temperature = 0.9f;
    so.top_p = 0.9f;
    so.top_k = 50;
    so.presence_penalty = 0.1f;
    so.frequency_penalty = 0.1f;
    so.penalty_decay = 0.996f;
    so.seed = 3;
    std::vector<float> logits(3 * V), raw(L);
    const std::int32_t prompt[5] = {10, 20, 30, 40, 50};
    long made = -1;
    bool fine = ok(rwkv_session_new(m, 8, &session), "session") && ok(rwkv_sampler_new(&so, V, &sampler), "sampler") &&
                ok(rwkv_tokenizer_for_model(m, &tokenizer), "tokenizer");
    const long before_states = allocations.load();
    for (auto& a : agents) fine = fine && ok(rwkv_state_new(m, &a), "state");
    if (allocations.load() == before_states) {  // else the counter would not see the library at all
        std::fprintf(stderr, "the counting operator new does not see librwkv_c's allocations\n");
        fine = false;
    }
    fine = fine && ok(rwkv_eval_sequence(session, nullptr, prompt, 5, logits.data(), V), "prefill");
    if (fine) {
        const long before = allocations.load();
        for (int i = 0; i < 64 && fine; ++i) {
            std::int32_t token = 0;
            const char* bytes = nullptr;
            std::size_t n_bytes = 0;
            fine = ok(rwkv_sample(sampler, logits.data(), V, &token), "sample") &&
                   ok(rwkv_sampler_accept(sampler, token), "accept") &&
                   ok(rwkv_token_bytes(tokenizer, token, &bytes, &n_bytes), "token bytes") &&
                   ok(rwkv_eval(session, nullptr, token, logits.data(), V), "eval");
        }
        for (int step = 0; step < 16 && fine; ++step) {
            const std::int32_t tokens[3] = {step, step + 1, step + 2};
            fine = ok(rwkv_eval_batch(session, agents, tokens, 3, logits.data(), 3 * V), "batch");
        }
        for (int step = 0; step < 16 && fine; ++step)
            fine = ok(rwkv_eval_raw(session, step, step ? raw.data() : nullptr, raw.data(), L, logits.data(), V), "raw");
        fine = fine && ok(rwkv_eval_sequence(session, agents[0], prompt, 5, logits.data(), V), "prompt");
        if (fine) made = allocations.load() - before;
    }
    for (auto* a : agents) rwkv_state_free(a);
    rwkv_tokenizer_free(tokenizer);
    rwkv_sampler_free(sampler);
    rwkv_session_free(session);
    rwkv_model_free(m);
    return made;
}

}  // namespace

int main() {
    const std::string path = std::string(RWKV_TEST_DATA_DIR) + "/v7-c128-l2.safetensors";
    int failed = 0;
    for (auto [precision, name] : {std::pair{RWKV_PRECISION_F32, "f32"}, {RWKV_PRECISION_INT8, "int8"}}) {
        const long n = allocations_while_decoding(path, precision);
        std::printf("C API, cpu backend, 2 threads, %s: heap allocations during 64 sampled decode steps, 16 batched "
                    "steps of 3 states, 16 raw-buffer steps and a 5-token prompt: %ld\n",
                    name, n);
        failed += n != 0;
    }
    std::printf("%d passed, %d failed\n", 2 - failed, failed);
    return failed == 0 ? 0 : 1;
}
