// Compile-time probe (bench/compile-time): a user's translation unit that includes <rwkv/rwkv7.hpp>
// and runs one forward pass on the reference backend.
#include <rwkv/rwkv7.hpp>

#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    const auto model = rwkv::rwkv7::model<>::load(argv[1]);
    auto state = model.make_state();
    auto workspace = model.make_workspace();
    std::vector<float> logits(model.cfg().n_vocab);
    const std::int32_t token = 0;
    model.forward(std::span(&token, 1), state, workspace, logits);
    return 0;
}
