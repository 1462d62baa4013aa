// The code shown in docs/concepts.md and docs/getting-started.md, as one translation unit that
// scripts/docs compiles (syntax and types only: g++ -fsyntax-only) so that every name the pages use
// exists with the signature they show. It is not a program to run; examples/ has those.
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include <rwkv/backends/cpu.hpp>
#include <rwkv/rwkv.hpp>
#include <rwkv/rwkv7.hpp>

namespace snippets {

// [first-program]
void first_program(std::span<const std::int32_t> prompt) {
    auto model = rwkv::rwkv7::model<>::load("model.safetensors");  // reference backend, f32 weights
    auto state = model.make_state();                                 // the conversation so far
    auto ws = model.make_workspace();                                // scratch, sized once
    std::vector<float> logits(model.cfg().n_vocab);
    model.forward(prompt, state, ws, logits);                        // sequence mode: the whole prompt
    const std::int32_t next = 42;                                    // e.g. from rwkv::generate::sampler
    model.forward(std::span(&next, 1), state, ws, logits);           // RNN mode: one token
}
// [first-program]

// [model-types]
using reference_f32 = rwkv::rwkv7::model<>;  // = model<rwkv::backends::reference, rwkv::precision::f32>
using fast_int8 = rwkv::rwkv7::model<rwkv::backends::cpu, rwkv::precision::int8>;
using eagle_bf16 = rwkv::rwkv5::model<rwkv::backends::cpu, rwkv::precision::bf16>;

void load_fast() {
    const fast_int8 model = fast_int8::load("model.pth", rwkv::backends::cpu{4});  // 4 threads
    static_assert(std::is_same_v<fast_int8::space, rwkv::host_space>);
    (void)model.cfg().n_layer;
}
// [model-types]

// [state]
void states(const rwkv::rwkv7::model<>& model, rwkv::rwkv7::workspace& ws, std::span<const std::int32_t> tokens,
            std::span<float> logits) {
    rwkv::state chat = model.make_state();
    model.forward(tokens, chat, ws, logits);
    rwkv::state branch = chat;                  // a copy forks the conversation (or chat.fork())
    model.forward(tokens, branch, ws, logits);  // chat is untouched
    rwkv::save_state(chat, "chat.rwkvstate");   // versioned, checksummed
    rwkv::state again = rwkv::load_state("chat.rwkvstate");
    std::span<const float> raw = again.values();  // the official state list, flat f32
    (void)raw;
    model.forward(tokens, chat, ws, {}, rwkv::logits_mode::none);  // advance only, no logits
}
// [state]

// [agents]
void agents(const rwkv::rwkv7::model<>& model, std::span<const std::int32_t> one_token_each) {
    std::vector<rwkv::state> npcs(16, model.make_state());
    std::vector<rwkv::state*> who;
    for (auto& s : npcs) who.push_back(&s);
    auto ws = model.make_workspace(16);                      // rows for 16 agents
    std::vector<float> logits(16 * model.cfg().n_vocab);     // [B, V]
    model.forward_batch(one_token_each, who, ws, logits);   // one token per agent, weights read once
}
// [agents]

// [any-model]
void any(std::span<const std::int32_t> tokens) {
    rwkv::open_options opt;
    opt.precision = "int8";
    opt.threads = 2;
    const rwkv::any_model model = rwkv::any_model::open("model.pth", opt);  // architecture from the file
    auto state = model.make_state();
    auto ws = model.make_workspace();
    std::vector<float> logits(model.summary().n_vocab);
    model.forward(tokens, state, *ws, logits);
}
// [any-model]

// [errors]
void errors() {
    try {
        auto model = rwkv::rwkv7::model<>::load("missing.pth");
    } catch (const rwkv::io_error&) {          // cannot open / read
    } catch (const rwkv::model_error&) {       // not an RWKV-7 checkpoint, wrong shape, …
    } catch (const rwkv::error&) {             // every library error derives from rwkv::error
    }
}
// [errors]

}  // namespace snippets
