// Compile-time probe (bench/compile-time): <rwkv/rwkv7.hpp> with the cpu backend (SIMD kernels and
// threads) and int8 weights, one forward pass.
#include <rwkv/backends/cpu.hpp>
#include <rwkv/rwkv7.hpp>

#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    using model_type = rwkv::rwkv7::model<rwkv::backends::cpu, rwkv::precision::int8>;
    const auto model = model_type::load(argv[1], rwkv::backends::cpu(2));
    auto state = model.make_state();
    auto workspace = model.make_workspace();
    std::vector<float> logits(model.cfg().n_vocab);
    const std::int32_t token = 0;
    model.forward(std::span(&token, 1), state, workspace, logits);
    return 0;
}
