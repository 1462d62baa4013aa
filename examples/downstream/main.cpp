// A downstream project's whole use of rwkv: include the header, load a checkpoint, run it, check the
// logits against the official ones. CI builds it against an installed package, with
// add_subdirectory and with FetchContent (scripts/test-downstream), and from pkg-config's flags.
//
//   rwkv-downstream MODEL.safetensors TOKENS.json LOGITS.f32
#include <rwkv/rwkv7.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s MODEL.safetensors TOKENS.json LOGITS.f32\n", argv[0]);
        return 2;
    }
    try {
        const auto model = rwkv::rwkv7::model<>::load(argv[1]);
        std::ifstream tokens_file(argv[2]);
        const auto tokens = nlohmann::json::parse(tokens_file).get<std::vector<std::int32_t>>();
        const std::size_t V = model.cfg().n_vocab;
        std::vector<float> expected(tokens.size() * V);
        std::ifstream logits_file(argv[3], std::ios::binary);
        logits_file.read(reinterpret_cast<char*>(expected.data()),
                         static_cast<std::streamsize>(expected.size() * sizeof(float)));
        if (!logits_file) throw rwkv::io_error(std::string(argv[3]) + ": fewer logits than tokens × vocabulary");

        auto state = model.make_state();
        auto workspace = model.make_workspace();
        std::vector<float> logits(V);
        float worst = 0.0f;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            model.forward(std::span(&tokens[t], 1), state, workspace, logits);
            for (std::size_t i = 0; i < V; ++i) worst = std::max(worst, std::abs(logits[i] - expected[t * V + i]));
        }
        std::printf("%zu tokens, max |logit - official| = %.3g\n", tokens.size(), static_cast<double>(worst));
        return worst <= 1e-4f ? 0 : 1;
    } catch (const rwkv::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
