// Compile-time probe (bench/compile-time): a tool that opens any file through rwkv::any_model and runs
// one forward pass. Measured twice: header-only (every model instantiated in this TU) and with
// RWKV_ANY_MODEL_COMPILED (what linking rwkv::any_model gives: declarations only).
#include <rwkv/any_model.hpp>

#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    const auto model = rwkv::any_model::open(argv[1]);
    auto state = model.make_state();
    auto workspace = model.make_workspace();
    std::vector<float> logits(model.summary().n_vocab);
    const std::int32_t token = 0;
    model.forward(std::span(&token, 1), state, *workspace, logits);
    return 0;
}
