// int8 and int4 block-quantized weights (core/quant.hpp) on the goldens: accuracy against f32
// (max |Δlogit|, top-1 agreement, KL divergence of the softmax), the cpu backend against the reference
// backend, every ISA's gemm_int8/gemm_int4 kernel against the semantics of core/quant.hpp (activations
// quantized to int8 blocks, integer block dot products), and the quantizer itself.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "rwkv/backends/cpu/kernel_table.hpp"
#include "rwkv/any_model.hpp"
#include "model_runs.hpp"
#include "test_support.hpp"

using namespace rwkv;

namespace {

struct quant_metrics {
    double max_abs = 0, top1 = 0, kl = 0;  // top1: fraction of positions with the same argmax; kl: mean
};

quant_metrics compare(std::span<const float> ref, std::span<const float> got, std::size_t V) {
    quant_metrics m;
    const std::size_t T = ref.size() / V;
    for (std::size_t t = 0; t < T; ++t) {
        const float* p = ref.data() + t * V;
        const float* q = got.data() + t * V;
        m.top1 += (std::max_element(p, p + V) - p) == (std::max_element(q, q + V) - q) ? 1 : 0;
        const double mp = *std::max_element(p, p + V), mq = *std::max_element(q, q + V);
        double zp = 0, zq = 0;
        for (std::size_t i = 0; i < V; ++i) zp += std::exp(p[i] - mp), zq += std::exp(q[i] - mq);
        for (std::size_t i = 0; i < V; ++i) {
            const double lp = p[i] - mp - std::log(zp), lq = q[i] - mq - std::log(zq);
            m.kl += std::exp(lp) * (lp - lq);
            m.max_abs = std::max(m.max_abs, static_cast<double>(std::abs(p[i] - q[i])));
        }
    }
    m.top1 /= static_cast<double>(T);
    m.kl /= static_cast<double>(T);
    return m;
}

std::vector<float> all_logits(const std::filesystem::path& path, const std::string& precision, const std::string& backend,
                              std::span<const std::int32_t> tokens, std::size_t prefill = 16) {
    open_options o;
    o.precision = precision;
    o.backend = backend;
    o.threads = 2;
    return rwkv_test::prefill_then_decode(any_model::open(path, o), tokens, prefill).logits;
}

}  // namespace

TEST_CASE("quantized policies stay within their documented accuracy on the goldens", "[quant][golden]") {
    struct model_case {
        std::string prefix;
        std::filesystem::path dir;
    };
    std::vector<model_case> cases{{"v7-c128-l2", rwkv_test::data_dir()}};
    if (const auto shared = rwkv_test::shared_golden_dir(); !shared.empty())
        for (const char* p : {"v4-c128-l2", "v5-c128-l2", "v6-c128-l2", "goldfinch-c128-l3"}) cases.push_back({p, shared});
    else
        WARN("shared goldens not found: quantization checked on RWKV-7 only");

    for (const auto& c : cases) {
        std::ifstream f(c.dir / (c.prefix + ".tokens.json"));
        const auto tokens = nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
        const auto path = c.dir / (c.prefix + ".pth");
        const auto f32 = all_logits(path, "f32", "cpu", tokens);
        const std::size_t V = 256;
        for (const char* precision : {"int8", "int4"}) {
            const auto cpu = all_logits(path, precision, "cpu", tokens);
            const auto ref = all_logits(path, precision, "reference", tokens);
            const auto q = compare(f32, cpu, V);
            const auto k = compare(ref, cpu, V);
            // Position 0 (empty state) apart: see the bounds below.
            const auto q0 = compare(std::span(f32).first(V), std::span(cpu).first(V), V);
            const auto q1 = compare(std::span(f32).subspan(V), std::span(cpu).subspan(V), V);
            WARN(c.prefix << " " << precision << ": max|dlogit| " << q.max_abs << ", top-1 agreement " << q.top1
                          << ", KL " << q.kl << "; position 0: max|dlogit| " << q0.max_abs << ", KL " << q0.kl
                          << "; positions 1..: max|dlogit| " << q1.max_abs << ", top-1 " << q1.top1 << ", KL " << q1.kl
                          << "; cpu vs reference " << k.max_abs);
            // Both backends quantize their own activations, which differ by float rounding (~1e-7): now and
            // then an x / d_x on a rounding boundary takes the neighbouring code in one backend, a one-step
            // perturbation of one activation, smaller than the quantization noise itself (measured: ≤ 0.09,
            // on GoldFinch int8; RWKV-7 ≤ 1e-5). The kernels themselves are checked against the semantics to
            // 1e-5 on identical inputs (the "integer block dot products" test below).
            CHECK(k.max_abs <= 0.35);
            // Bounds of docs/cpu-backend.md, measured on these random-weight goldens (logit std ≈ 2.5;
            // every matrix quantized, the small LoRA factors, the head and the embedding too; the
            // activations of every W·x quantized to int8 blocks). The first position of the RWKV-7 golden
            // (empty state) is hypersensitive: random ±½-step noise on every activation instead of
            // quantization moves its logits by 0.12–3.5 (12 seeds) where later positions move by ≤ 0.24,
            // so the int8 bounds hold from position 1 and position 0 gets the int4 bound.
            if (std::string(precision) == "int8") {
                CHECK(q1.max_abs <= 0.35);
                CHECK(q1.kl <= 1e-3);
                CHECK(q.top1 >= 0.95);
                CHECK(q0.max_abs <= 5.0);
            } else {
                CHECK(q.max_abs <= 5.0);
                CHECK(q.top1 >= 0.55);
                CHECK(q.kl <= 0.15);
            }
        }
    }
}

TEST_CASE("block quantization round-trips within half a step", "[quant]") {
    std::vector<float> w(70);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i) * 0.7f) * (i % 5 == 0 ? 3.0f : 0.5f);
    w[40] = 0.0f;
    for (int bits : {8, 4}) {
        const std::size_t cols = w.size();
        auto check = [&]<class Q>(Q) {
            std::vector<std::int8_t> codes(quant_row_bytes<Q>(cols));
            std::vector<float> scales(quant_row_blocks<Q>(cols));
            quantize_row<Q>(w.data(), cols, codes.data(), scales.data());
            const_matrix_view<Q> m{codes.data(), scales.data(), 1, cols, codes.size(), scales.size()};
            for (std::size_t j = 0; j < cols; ++j) {
                const float step = std::abs(scales[j / quant_block_size]);
                INFO("bits " << bits << " j " << j);
                // int8: nearest code; int4: a refitted scale may clamp a weight by up to one step.
                CHECK(std::abs(m(0, j) - w[j]) <= (Q::bits == 8 ? 0.5f : 1.0f) * step + 1e-6f);
            }
        };
        if (bits == 8) check(int8_block{});
        else check(int4_block{});
    }
}

namespace {

// What gemm_int8 / gemm_int4 compute (core/quant.hpp), in plain loops summed in double: x quantized to
// int8 blocks, exact integer block sums, scaled by s_w · d_x. Also Σ_b s_w·d_x·Σ_j |c_w·c_x|, the scale of
// the f32 rounding the kernels may add (they round partial sums of a block, one per SIMD lane).
struct dot_result {
    double y = 0, magnitude = 0;
};
template <std::size_t Bits>
dot_result quant_dot_semantics(const std::int8_t* codes, const float* scales, const float* x, std::size_t K) {
    const std::size_t nb = quant_row_blocks<int8_block>(K);
    std::vector<std::int8_t> xc(nb * quant_block_size);
    std::vector<float> xd(nb);
    quantize_row<int8_block>(x, K, xc.data(), xd.data());
    dot_result r;
    for (std::size_t b = 0; b < nb; ++b) {
        long isum = 0, iabs = 0;
        for (std::size_t k = b * quant_block_size; k < std::min(K, (b + 1) * quant_block_size); ++k) {
            const long p = static_cast<long>(quant_code<Bits>(codes, k)) * xc[k];
            isum += p;
            iabs += std::abs(p);
        }
        const double scale = static_cast<double>(scales[b]) * xd[b];
        r.y += scale * static_cast<double>(isum);
        r.magnitude += std::abs(scale) * static_cast<double>(iabs);  // int4 scales may be negative
    }
    return r;
}

std::vector<cpu::isa> runnable_kernel_isas() {
    std::vector<cpu::isa> out;
    for (int i = 0; i < 4; ++i) {
        const auto id = static_cast<cpu::isa>(i);
        if (i == 0 || (cpu::registered_tables()[static_cast<std::size_t>(i)] && cpu::cpu_supports(id))) out.push_back(id);
    }
    return out;
}

}  // namespace

TEST_CASE("the quantized gemm kernels compute integer block dot products on every ISA", "[quant][kernels]") {
    // RWKV_CPU_VNNI=0 runs this on the AVX-512 F/BW form where the CPU has VNNI (a ctest of its own).
    std::mt19937 gen(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    struct shape {
        std::size_t O, K, T;
    };
    // K: one block, odd and even block counts, partial last blocks, more than 8 blocks (the AVX-512
    // scale groups), a row too long for the kernels' stack scratch (40000); T up to 70 (token chunks of 64).
    const std::vector<shape> shapes{{37, 32, 5}, {37, 64, 5},  {37, 100, 5}, {19, 273, 5}, {23, 768, 5},
                                    {9, 1000, 3}, {5, 40000, 1}, {6, 64, 70}, {13, 17, 2},  {11, 544, 9}};
    for (const auto& sh : shapes) {
        std::vector<float> wf(sh.O * sh.K), x(sh.T * sh.K);
        for (auto& v : wf) v = normal(gen) * 0.05f;
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = normal(gen) * (i % 97 < 40 ? 3.0f : 0.2f);
        // A block of exact ties (d = 1: codes of ±0.5, ±1.5, ... round to even) and a zero block.
        if (sh.K >= 64) {
            x[0] = 127.0f;
            for (std::size_t j = 1; j < 32; ++j) x[j] = (j % 2 ? 1.0f : -1.0f) * (static_cast<float>(j) - 0.5f);
            for (std::size_t j = 32; j < 64; ++j) x[j] = 0.0f;
        }
        for (int bits : {8, 4}) {
            auto run = [&]<class Q>(Q) {
                const std::size_t row_bytes = quant_row_bytes<Q>(sh.K), nb = quant_row_blocks<Q>(sh.K);
                std::vector<std::int8_t> codes(sh.O * row_bytes);
                std::vector<float> scales(sh.O * nb);
                for (std::size_t o = 0; o < sh.O; ++o)
                    quantize_row<Q>(wf.data() + o * sh.K, sh.K, codes.data() + o * row_bytes, scales.data() + o * nb);
                const quant_rows rows{codes.data(), scales.data(), row_bytes, nb};
                std::vector<dot_result> want(sh.T * sh.O);
                for (std::size_t t = 0; t < sh.T; ++t)
                    for (std::size_t o = 0; o < sh.O; ++o)
                        want[t * sh.O + o] = quant_dot_semantics<Q::bits>(codes.data() + o * row_bytes,
                                                                          scales.data() + o * nb, x.data() + t * sh.K, sh.K);
                for (const auto id : runnable_kernel_isas()) {
                    const auto& k = cpu::kernels_for(id);
                    const auto gemm = Q::bits == 8 ? k.gemm_int8 : k.gemm_int4;
                    INFO("isa " << cpu::isa_names[static_cast<std::size_t>(id)] << " int" << Q::bits << " O " << sh.O
                                << " K " << sh.K << " T " << sh.T);
                    std::vector<float> y(sh.T * sh.O, -1.0f);
                    gemm(rows, x.data(), sh.K, y.data(), sh.O, sh.T, 0, sh.O, sh.K);
                    double worst = 0;
                    for (std::size_t i = 0; i < y.size(); ++i)
                        worst = std::max(worst, std::abs(y[i] - want[i].y) / std::max(want[i].magnitude, 1e-30));
                    INFO("max |cpu − semantics| / Σ|products| " << worst);
                    CHECK(worst <= 1e-5);
                    // Row ranges that split the tiles, and one token at a time: bitwise the same outputs.
                    for (const auto& [o0, o1] : {std::pair<std::size_t, std::size_t>{1, sh.O}, {sh.O / 3, sh.O / 3 + 1},
                                                 {sh.O / 2, sh.O - 1}}) {
                        std::vector<float> part(sh.T * sh.O, -1.0f);
                        gemm(rows, x.data(), sh.K, part.data(), sh.O, sh.T, o0, o1, sh.K);
                        bool same = true;
                        for (std::size_t t = 0; t < sh.T; ++t)
                            for (std::size_t o = o0; o < o1; ++o)
                                same = same && std::memcmp(&part[t * sh.O + o], &y[t * sh.O + o], sizeof(float)) == 0;
                        INFO("rows " << o0 << ".." << o1);
                        CHECK(same);
                    }
                    bool same = true;
                    for (std::size_t t = 0; t < sh.T; ++t) {
                        std::vector<float> one(sh.O);
                        gemm(rows, x.data() + t * sh.K, sh.K, one.data(), sh.O, 1, 0, sh.O, sh.K);
                        same = same && std::memcmp(one.data(), &y[t * sh.O], sh.O * sizeof(float)) == 0;
                    }
                    CHECK(same);
                }
            };
            if (bits == 8) run(int8_block{});
            else run(int4_block{});
        }
    }
}
