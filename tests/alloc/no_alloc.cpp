// Proves the decode loop allocates nothing: global operator new is replaced by a counting one,
// and one RNN step + sampling + streaming UTF-8 decode must not call it. A separate executable,
// because replacing operator new is process-wide.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/rwkv7.hpp"
#include "rwkv/text/byte_tokenizer.hpp"
#include "rwkv/text/utf8.hpp"

#include "counting_new.hpp"

// Decodes 64 sampled tokens and re-runs a prefill; returns the heap allocations made meanwhile.
template <class Model>
long allocations_while_decoding(const Model& model) {
    auto state = model.make_state();
    auto ws = model.make_workspace(16);
    std::vector<float> logits(model.cfg().n_vocab);
    rwkv::generate::sampler sampler({.temperature = 0.9f, .top_p = 0.9f, .top_k = 50, .presence_penalty = 0.1f,
                                     .frequency_penalty = 0.1f, .penalty_decay = 0.996f, .seed = 3},
                                    static_cast<std::int32_t>(model.cfg().n_vocab));
    const rwkv::text::byte_tokenizer tokenizer;
    rwkv::text::utf8_stream_decoder utf8;
    std::string text;
    text.reserve(4096);
    const std::vector<std::int32_t> prompt{10, 20, 30, 40, 50};
    model.forward(prompt, state, ws, logits);
    const long before = allocations.load();
    for (int i = 0; i < 64; ++i) {
        const std::int32_t token = sampler.sample(logits);
        sampler.accept(token);
        utf8.push(tokenizer.token_bytes(token), text);
        model.forward(std::span(&token, 1), state, ws, logits);
    }
    model.forward(prompt, state, ws, logits);  // a prefill that fits the workspace allocates nothing either
    return allocations.load() - before;
}

// Steps 16 agents together for 32 steps, then a variable-length batched prefill; returns the heap
// allocations made meanwhile.
template <class Model>
long allocations_while_batch_decoding(const Model& model) {
    constexpr std::size_t B = 16;
    std::vector<rwkv::state> agents;
    std::vector<rwkv::state*> ptrs;
    for (std::size_t g = 0; g < B; ++g) agents.push_back(model.make_state());
    for (auto& a : agents) ptrs.push_back(&a);
    auto ws = model.make_workspace(2 * B);
    std::vector<float> logits(B * model.cfg().n_vocab);
    std::vector<std::int32_t> tokens(2 * B);
    const std::vector<std::size_t> lengths{3, 1, 2, 2, 1, 1, 4, 2, 2, 1, 3, 2, 2, 3, 1, 2};
    model.forward_batch(std::span(tokens).first(B), {}, ptrs, ws, logits);
    const long before = allocations.load();
    for (int step = 0; step < 32; ++step) {
        for (std::size_t g = 0; g < B; ++g) tokens[g] = static_cast<std::int32_t>((g * 7 + static_cast<std::size_t>(step)) % 200);
        model.forward_batch(std::span(tokens).first(B), {}, ptrs, ws, logits);
    }
    model.forward_batch(tokens, lengths, ptrs, ws, logits);
    return allocations.load() - before;
}

int main() {
    const std::string path = std::string(RWKV_TEST_DATA_DIR) + "/v7-c128-l2.safetensors";
    int failed = 0;
    const long reference = allocations_while_decoding(rwkv::rwkv7::model<>::load(path));
    std::printf("reference backend: heap allocations during 64 decode steps and a 5-token prefill: %ld\n", reference);
    failed += reference != 0;
    // The cpu backend with its thread pool (2 threads), f32 and int8 weights.
    const long cpu = allocations_while_decoding(rwkv::rwkv7::model<rwkv::backends::cpu>::load(path, rwkv::backends::cpu{2}));
    std::printf("cpu backend, 2 threads, f32: %ld\n", cpu);
    failed += cpu != 0;
    const long cpu_int8 = allocations_while_decoding(
        rwkv::rwkv7::model<rwkv::backends::cpu, rwkv::precision::int8>::load(path, rwkv::backends::cpu{2}));
    std::printf("cpu backend, 2 threads, int8: %ld\n", cpu_int8);
    failed += cpu_int8 != 0;
    const long batch = allocations_while_batch_decoding(
        rwkv::rwkv7::model<rwkv::backends::cpu, rwkv::precision::int8>::load(path, rwkv::backends::cpu{2}));
    std::printf("cpu backend, 2 threads, int8, forward_batch of 16 agents (32 steps and a batched prefill): %ld\n",
                batch);
    failed += batch != 0;
    const long batch_ref = allocations_while_batch_decoding(rwkv::rwkv7::model<>::load(path));
    std::printf("reference backend, forward_batch of 16 agents: %ld\n", batch_ref);
    failed += batch_ref != 0;
    std::printf("%d passed, %d failed\n", 5 - failed, failed);
    return failed == 0 ? 0 : 1;
}
