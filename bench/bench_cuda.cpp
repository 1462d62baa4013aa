// rwkv-bench-cuda — RWKV-7 and GoldFinch on the CUDA backend, as fractions of the device's measured
// read bandwidth (decode) in the same run.
//
//   rwkv-bench-cuda MODEL [--precision f32|bf16|f16|int8|int4] [--decode N] [--batch 1,64,256]
//                         [--prefill T] [--repeats R]
//
// For each batch size B it times N decode steps of B agents (forward_batch, one token each) after a
// warm-up step and reports summed tokens/s; batch 1 also as weight bytes/token × tokens/s ÷ the
// measured read bandwidth. --prefill T times one T-token forward of a fresh state. One JSON object
// per line on stdout (machine-readable; the same keys as rwkv-cli bench where they mean the same).
// Without a visible GPU it says so and exits 0.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/backends/cuda.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv7.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    std::string model, precision = "bf16";
    std::size_t decode = 32, prefill = 0, repeats = 3;
    std::vector<std::size_t> batches{1};
};

std::vector<std::size_t> parse_list(std::string_view s) {
    std::vector<std::size_t> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        out.push_back(std::stoul(std::string(s.substr(0, comma))));
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    }
    return out;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw rwkv::invalid_argument(std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "--precision") o.precision = value();
        else if (a == "--decode") o.decode = std::stoul(value());
        else if (a == "--prefill") o.prefill = std::stoul(value());
        else if (a == "--repeats") o.repeats = std::stoul(value());
        else if (a == "--batch") o.batches = parse_list(value());
        else if (!a.starts_with("--") && o.model.empty()) o.model = a;
        else throw rwkv::invalid_argument("unknown argument '" + std::string(a) + "'");
    }
    if (o.model.empty()) throw rwkv::invalid_argument("usage: rwkv-bench-cuda MODEL [options]");
    return o;
}

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

template <class Model>
void run(const Model& m, const options& o, double bandwidth) {
    const std::size_t V = m.cfg().n_vocab;
    const double bytes_per_token = static_cast<double>(m.weight_bytes_per_token());
    for (std::size_t B : o.batches) {
        auto ws = m.make_workspace(std::max<std::size_t>(B, 1));
        std::vector<decltype(m.make_state())> states;
        for (std::size_t g = 0; g < B; ++g) states.push_back(m.make_state());
        std::vector<decltype(m.make_state())*> ptrs;
        for (auto& s : states) ptrs.push_back(&s);
        std::vector<std::int32_t> tokens(B);
        std::vector<float> logits(B * V);
        auto step = [&](std::size_t i) {
            for (std::size_t g = 0; g < B; ++g) tokens[g] = static_cast<std::int32_t>((i * 31 + g * 7) % V);
            m.forward_batch(tokens, ptrs, ws, logits);  // logits come back: the step is complete
        };
        step(0);  // warm-up: first-use allocations, module load
        double best = 0.0;
        for (std::size_t r = 0; r < o.repeats; ++r) {
            const auto t0 = clock_type::now();
            for (std::size_t i = 1; i <= o.decode; ++i) step(i);
            const double tok_s = static_cast<double>(B * o.decode) / seconds_since(t0);
            best = std::max(best, tok_s);
        }
        nlohmann::json j{{"mode", "decode"}, {"batch", B}, {"decode_tok_s", best},
                         {"weight_bytes_per_token", bytes_per_token}, {"read_bandwidth_bytes_s", bandwidth}};
        // Weights stream once per step for the whole batch: steps/s × bytes per step ÷ bandwidth.
        if (bandwidth > 0) j["bandwidth_fraction"] = best / static_cast<double>(B) * bytes_per_token / bandwidth;
        std::printf("%s\n", j.dump().c_str());
        std::fflush(stdout);
    }
    if (o.prefill > 0) {
        auto ws = m.make_workspace(o.prefill);
        std::vector<std::int32_t> tokens(o.prefill);
        for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>((i * 131) % V);
        std::vector<float> logits(V);
        double best = 0.0;
        for (std::size_t r = 0; r <= o.repeats; ++r) {
            auto st = m.make_state();
            const auto t0 = clock_type::now();
            m.forward(tokens, st, ws, logits);
            if (r > 0) best = std::max(best, static_cast<double>(o.prefill) / seconds_since(t0));
        }
        std::printf("%s\n", nlohmann::json{{"mode", "prefill"}, {"tokens", o.prefill}, {"prefill_tok_s", best}}
                                .dump()
                                .c_str());
    }
}

template <class P>
void run_precision(const options& o, double bandwidth) {
    auto file = rwkv::io::tensor_file::open(o.model);
    const auto arch = rwkv::detect_architecture(file);
    if (arch == rwkv::architecture::rwkv7) {
        run(rwkv::rwkv7::model<rwkv::backends::cuda, P>(std::move(file)), o, bandwidth);
    } else if (arch == rwkv::architecture::goldfinch) {
        rwkv::goldfinch::options gopt;
        gopt.max_context = std::max<std::size_t>(o.prefill + o.decode * (o.repeats + 1) + 16, 4096);
        run(rwkv::goldfinch::model<rwkv::backends::cuda, P>(std::move(file), gopt), o, bandwidth);
    } else {
        throw rwkv::unsupported_error("rwkv-bench-cuda runs RWKV-7 and GoldFinch models");
    }
}

}  // namespace

int main(int argc, char** argv) try {
    const options o = parse(argc, argv);
    if (!rwkv::backends::cuda::available()) {
        std::printf("{\"skipped\": \"no CUDA device visible\"}\n");
        return 0;
    }
    const auto props = rwkv::cuda_kernels::properties(0);
    const double bandwidth = rwkv::cuda_kernels::read_bandwidth(std::size_t{1} << 30, 5);
    std::printf("%s\n", nlohmann::json{{"device", props.name},
                                       {"read_bandwidth_bytes_s", bandwidth},
                                       {"theoretical_bandwidth_bytes_s", props.memory_bandwidth_bytes_per_s},
                                       {"precision", o.precision}}
                            .dump()
                            .c_str());
    if (o.precision == "f32") run_precision<rwkv::precision::f32>(o, bandwidth);
    else if (o.precision == "bf16") run_precision<rwkv::precision::bf16>(o, bandwidth);
    else if (o.precision == "f16") run_precision<rwkv::precision::f16>(o, bandwidth);
    else if (o.precision == "int8") run_precision<rwkv::precision::int8>(o, bandwidth);
    else if (o.precision == "int4") run_precision<rwkv::precision::int4>(o, bandwidth);
    else throw rwkv::invalid_argument("unknown precision '" + o.precision + "'");
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "rwkv-bench-cuda: %s\n", e.what());
    return 1;
}
