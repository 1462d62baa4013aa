// The smallest complete program: load an RWKV-7 checkpoint, prefill a prompt, sample tokens.
//
//   rwkv-example-generate examples/models/fortune-v7-c128-l2.safetensors "Once upon a time"
//
// Uses the byte tokenizer of the demo model; for World models use rwkv::text::world_tokenizer.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "rwkv/generate/sampler.hpp"
#include "rwkv/rwkv7.hpp"
#include "rwkv/text/byte_tokenizer.hpp"
#include "rwkv/text/utf8.hpp"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL.safetensors PROMPT [N]\n", argv[0]);
        return 2;
    }
    try {
        const auto model = rwkv::rwkv7::model<>::load(argv[1]);  // shared, read-only weights
        const rwkv::text::byte_tokenizer tokenizer;
        auto state = model.make_state();          // one per conversation; copy it to fork
        auto workspace = model.make_workspace();  // scratch, sized once: no allocation per token
        std::vector<float> logits(model.cfg().n_vocab);
        rwkv::generate::sampler sampler({.temperature = 1.0f, .top_p = 0.9f, .seed = 42},
                                        static_cast<std::int32_t>(model.cfg().n_vocab));
        rwkv::text::utf8_stream_decoder utf8;

        const auto prompt = tokenizer.encode(argv[2]);
        model.forward(prompt, state, workspace, logits);  // sequence mode over the prompt
        const int n = argc > 3 ? std::atoi(argv[3]) : 64;
        for (int i = 0; i < n; ++i) {
            const std::int32_t token = sampler.sample(logits);
            sampler.accept(token);
            std::fputs(utf8.push(tokenizer.token_bytes(token)).c_str(), stdout);
            model.forward(std::span(&token, 1), state, workspace, logits);  // RNN mode
        }
        std::printf("%s\n", utf8.flush().c_str());
    } catch (const rwkv::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
