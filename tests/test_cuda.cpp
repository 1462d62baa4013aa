// The CUDA backend (include/rwkv/backends/cuda.hpp, src/cuda/): every kernel against the reference
// kernel on random data, then every architecture against the goldens and the reference backend in
// RNN, sequence and mixed modes, states, forks and batches. Built when RWKV_ENABLE_CUDA is on
// (RWKV_TEST_CUDA); without a visible GPU each test says so in one line and checks only that a
// model on the backend fails with a typed error rather than a crash.
//
// Bounds: f32 models within 1e-4 of the goldens (the contract); other precisions within the bounds
// below of the reference backend in the same precision — the kernels sum in f32 in a fixed order
// (a warp's tree), the reference in double.
#include <catch2/catch.hpp>

#ifdef RWKV_TEST_CUDA

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "rwkv/backends/cuda.hpp"
#include "rwkv/backends/reference.hpp"
#include "rwkv/core/buffer.hpp"
#include "rwkv/models/embedding.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv4.hpp"
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "rwkv/ops/functors.hpp"
#include "model_runs.hpp"
#include "support/golden_models.hpp"
#include "test_support.hpp"

using namespace rwkv;
using rwkv_test::goldfinch_model;
using rwkv_test::same_bits;
using backends::cuda;
using backends::reference;

namespace {

bool gpu_visible() {
    if (cuda::available()) return true;
    WARN("no CUDA device visible: skipping the CUDA backend's GPU tests");
    return false;
}

std::vector<float> random_values(std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

// Host data copied to the device, with views of it.
template <class T>
struct on_device {
    buffer<T, cuda_space> data;
    explicit on_device(std::span<const T> host) : data(host.size()) { data.copy_from_host(host); }
    explicit on_device(std::size_t n) : data(n) {}
    matrix_view<T, cuda_space> matrix(std::size_t rows, std::size_t cols) { return {data.data_handle(), rows, cols}; }
    vector_view<T, cuda_space> vector() { return data.view(); }
    std::vector<T> to_host() const {
        std::vector<T> h(data.size());
        data.copy_to_host(h);
        return h;
    }
};

float max_relative_diff(std::span<const float> a, std::span<const float> b) {
    REQUIRE(a.size() == b.size());
    float worst = 0.0f;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0f, std::abs(b[i])));
    return worst;
}

// A [rows, cols] weight matrix in storage type W, on the host (for the reference) and the device.
template <class W>
struct test_weights {
    std::size_t rows, cols;
    std::vector<W> host;
    std::vector<std::int8_t> codes;
    std::vector<float> scales;
    std::size_t code_stride = 0, blocks = 0;
    buffer<W, cuda_space> dev;
    buffer<std::int8_t, cuda_space> dev_codes;
    buffer<float, cuda_space> dev_scales;

    test_weights(std::size_t r, std::size_t c, std::uint32_t seed) : rows(r), cols(c) {
        const auto f = random_values(r * c, seed);
        if constexpr (quant_format<W>) {
            code_stride = quant_row_bytes<W>(c);
            blocks = quant_row_blocks<W>(c);
            codes.resize(r * code_stride);
            scales.resize(r * blocks);
            for (std::size_t i = 0; i < r; ++i)
                quantize_row<W>(f.data() + i * c, c, codes.data() + i * code_stride, scales.data() + i * blocks);
            dev_codes = buffer<std::int8_t, cuda_space>(codes.size());
            dev_codes.copy_from_host(codes);
            dev_scales = buffer<float, cuda_space>(scales.size());
            dev_scales.copy_from_host(scales);
        } else {
            host.resize(f.size());
            std::transform(f.begin(), f.end(), host.begin(), [](float x) { return from_f32<W>(x); });
            dev = buffer<W, cuda_space>(host.size());
            dev.copy_from_host(host);
        }
    }
    const_matrix_view<W> host_view() const {
        if constexpr (quant_format<W>) return {codes.data(), scales.data(), rows, cols, code_stride, blocks};
        else return {host.data(), rows, cols};
    }
    const_matrix_view<W, cuda_space> device_view() const {
        if constexpr (quant_format<W>)
            return {dev_codes.data_handle(), dev_scales.data_handle(), rows, cols, code_stride, blocks};
        else return {dev.data_handle(), rows, cols};
    }
};

template <class W>
void check_linear(std::size_t out, std::size_t in, std::size_t tokens, float bound) {
    INFO("W " << out << " × " << in << ", " << tokens << " tokens");
    const test_weights<W> w(out, in, 7);
    const auto x = random_values(tokens * in, 8);
    std::vector<float> expected(tokens * out), expected_p(tokens * in);
    ops::linear(reference{}, w.host_view(), const_matrix_view<float>{x.data(), tokens, in},
                matrix_view<float>{expected.data(), tokens, out});
    on_device<float> dx{std::span<const float>(x)}, dy(tokens * out);
    ops::linear(cuda{}, w.device_view(), dx.matrix(tokens, in), dy.matrix(tokens, out));
    const auto got = dy.to_host();
    CHECK(max_relative_diff(got, expected) <= bound);

    // The same rows one token at a time: the same bits (an agent's result does not depend on its batch).
    for (std::size_t t = 0; t < tokens; ++t) {
        on_device<float> one(out);
        ops::linear(cuda{}, w.device_view(), dx.matrix(tokens, in).rows_slice(t, 1), one.matrix(1, out));
        CHECK(same_bits(one.to_host(), std::span<const float>(got).subspan(t * out, out)));
    }

    // x·M with this matrix as M [in' = out, out' = in].
    const auto xp = random_values(tokens * out, 9);
    ops::project(reference{}, const_matrix_view<float>{xp.data(), tokens, out}, w.host_view(),
                 matrix_view<float>{expected_p.data(), tokens, in});
    on_device<float> dxp{std::span<const float>(xp)}, dyp(tokens * in);
    ops::project(cuda{}, dxp.matrix(tokens, out), w.device_view(), dyp.matrix(tokens, in));
    CHECK(max_relative_diff(dyp.to_host(), expected_p) <= bound);
}

template <class W>
void check_linear_shapes(float bound) {
    for (std::size_t tokens : {std::size_t{1}, std::size_t{3}, std::size_t{11}}) {
        check_linear<W>(64, 256, tokens, bound);
        check_linear<W>(40, 130, tokens, bound);  // rows not a multiple of the vector width: the scalar path
    }
}

}  // namespace

TEST_CASE("CUDA: the matrix products of every weight type match the reference kernels", "[cuda][kernels]") {
    if (!gpu_visible()) return;
    SECTION("f32") { check_linear_shapes<float>(2e-6f); }
    SECTION("bf16") { check_linear_shapes<bf16>(2e-6f); }
    SECTION("f16") { check_linear_shapes<f16>(2e-6f); }
    SECTION("int8") { check_linear_shapes<int8_block>(2e-6f); }
    SECTION("int4") { check_linear_shapes<int4_block>(2e-6f); }
}

TEST_CASE("CUDA: element-wise maps, gathers, token shift, norms and the cache match the reference kernels",
          "[cuda][kernels]") {
    if (!gpu_visible()) return;
    const std::size_t T = 5, C = 96;
    const auto a = random_values(T * C, 1), b = random_values(T * C, 2), mu = random_values(C, 3, 0.0f, 1.0f),
               lora = random_values(T * C, 4);
    on_device<float> da{std::span<const float>(a)}, db{std::span<const float>(b)}, dmu{std::span<const float>(mu)},
        dlora{std::span<const float>(lora)}, dout(T * C);
    const const_matrix_view<float> ha{a.data(), T, C}, hb{b.data(), T, C}, hl{lora.data(), T, C};
    std::vector<float> expected(T * C);
    const matrix_view<float> hout{expected.data(), T, C};
    const auto out = dout.matrix(T, C);

    SECTION("maps: matrices and broadcast channel vectors, every arity") {
        ops::map(reference{}, hout, ops::fn::lerp_previous_lora{}, ha, hb, vector_view<const float>(mu), hl);
        ops::map(cuda{}, out, ops::fn::lerp_previous_lora{}, da.matrix(T, C), db.matrix(T, C),
                 vector_view<const float, cuda_space>(dmu.vector()), dlora.matrix(T, C));
        CHECK(max_relative_diff(dout.to_host(), expected) <= 1e-6f);
        ops::map(reference{}, hout, ops::fn::rwkv7_decay{}, ha, vector_view<const float>(mu));
        ops::map(cuda{}, out, ops::fn::rwkv7_decay{}, da.matrix(T, C), vector_view<const float, cuda_space>(dmu.vector()));
        CHECK(max_relative_diff(dout.to_host(), expected) <= 1e-6f);
        ops::map(reference{}, hout, ops::fn::silu{}, ha);
        ops::map(cuda{}, out, ops::fn::silu{}, da.matrix(T, C));
        CHECK(max_relative_diff(dout.to_host(), expected) <= 1e-6f);
        ops::map(cuda{}, out, ops::fn::zero{});
        CHECK(std::ranges::all_of(dout.to_host(), [](float v) { return v == 0.0f; }));
    }
    SECTION("embedding gather, f32 and int8 tables") {
        const std::vector<std::int32_t> ids{3, 0, 7, 3, 1};
        on_device<std::int32_t> dids{std::span<const std::int32_t>(ids)};
        const test_weights<float> table(8, C, 5);
        const test_weights<int8_block> qtable(8, C, 6);
        ops::embedding(reference{}, table.host_view(), vector_view<const std::int32_t>(ids), hout);
        ops::embedding(cuda{}, table.device_view(), vector_view<const std::int32_t, cuda_space>(dids.vector()), out);
        CHECK(same_bits(dout.to_host(), expected));
        ops::embedding(reference{}, qtable.host_view(), vector_view<const std::int32_t>(ids), hout);
        ops::embedding(cuda{}, qtable.device_view(), vector_view<const std::int32_t, cuda_space>(dids.vector()), out);
        CHECK(same_bits(dout.to_host(), expected));
    }
    SECTION("token shift") {
        auto sx = random_values(C, 7);
        on_device<float> dsx{std::span<const float>(sx)};
        ops::token_shift(reference{}, ha, vector_view<float>(sx), hout);
        ops::token_shift(cuda{}, da.matrix(T, C), dsx.vector(), out);
        CHECK(same_bits(dout.to_host(), expected));
        CHECK(same_bits(dsx.to_host(), sx));
    }
    SECTION("group norm, layer norm, RMS norm, L2 normalization") {
        const auto w = random_values(C, 8), bias = random_values(C, 9);
        on_device<float> dw{std::span<const float>(w)}, dbias{std::span<const float>(bias)};
        const vector_view<const float, cuda_space> vw = dw.vector(), vb = dbias.vector();
        for (std::size_t groups : {std::size_t{1}, std::size_t{3}}) {
            ops::group_norm(reference{}, ha, vector_view<const float>(w), vector_view<const float>(bias), groups,
                            ops::group_norm_eps, hout);
            ops::group_norm(cuda{}, da.matrix(T, C), vw, vb, groups, ops::group_norm_eps, out);
            CHECK(max_relative_diff(dout.to_host(), expected) <= 1e-5f);
        }
        ops::rms_norm(reference{}, ha, hout);
        ops::rms_norm(cuda{}, da.matrix(T, C), out);
        CHECK(max_relative_diff(dout.to_host(), expected) <= 1e-5f);
        std::copy(a.begin(), a.end(), expected.begin());
        ops::l2_normalize_groups(reference{}, hout, 32);
        deep_copy(dout.data, da.data);
        ops::l2_normalize_groups(cuda{}, out, 32);
        CHECK(max_relative_diff(dout.to_host(), expected) <= 1e-5f);
    }
    SECTION("the context cache, every dtype") {
        for (dtype type : {dtype::f32, dtype::bf16, dtype::f16}) {
            INFO(dtype_name(type));
            std::vector<std::byte> host_rows(T * C * dtype_size(type));
            buffer<std::byte, cuda_space> dev_rows(host_rows.size());
            ops::cache_kernel<reference>::store(reference{}, ha, type, host_rows.data());
            ops::cache_kernel<cuda>::store(cuda{}, da.matrix(T, C), type, dev_rows.data_handle());
            std::vector<std::byte> back(host_rows.size());
            dev_rows.copy_to_host(back);
            CHECK(back == host_rows);
            ops::cache_kernel<reference>::load(reference{}, host_rows.data(), type, hout);
            ops::cache_kernel<cuda>::load(cuda{}, dev_rows.data_handle(), type, out);
            CHECK(same_bits(dout.to_host(), expected));
        }
    }
}

namespace {

// r, w, k, v, a, b for a multi-head scan; w in (0, 1) as a decay, k unit-ish.
struct scan_inputs {
    std::size_t T, C;
    std::vector<float> r, w, k, v, a, b;
    scan_inputs(std::size_t t, std::size_t c)
        : T(t), C(c), r(random_values(t * c, 11)), w(random_values(t * c, 12, 0.5f, 1.0f)),
          k(random_values(t * c, 13, -0.3f, 0.3f)), v(random_values(t * c, 14)),
          a(random_values(t * c, 15, -0.2f, 0.0f)), b(random_values(t * c, 16, 0.0f, 0.2f)) {}
};

template <std::size_t N>
void check_scans(std::size_t T, std::size_t heads) {
    const std::size_t C = heads * N;
    INFO("N " << N << ", " << heads << " heads, " << T << " tokens");
    const scan_inputs in(T, C);
    auto host_state = random_values(heads * N * N, 17, -0.5f, 0.5f);
    const auto u = random_values(C, 18);
    on_device<float> dr{std::span<const float>(in.r)}, dw{std::span<const float>(in.w)},
        dk{std::span<const float>(in.k)}, dv{std::span<const float>(in.v)}, da{std::span<const float>(in.a)},
        db{std::span<const float>(in.b)}, du{std::span<const float>(u)}, dy(T * C);
    std::vector<float> y(T * C);
    const auto hm = [&](const std::vector<float>& x) { return const_matrix_view<float>{x.data(), T, C}; };

    for (int version : {6, 7}) {
        INFO("WKV-" << version);
        auto st = host_state;
        on_device<float> dst{std::span<const float>(host_state)};
        const tensor3_view<float> hs{st.data(), heads, N, N};
        const tensor3_view<float, cuda_space> ds{dst.data.data_handle(), heads, N, N};
        if (version == 6) {
            ops::wkv6<N>(reference{}, hs, hm(in.r), hm(in.w), hm(in.k), hm(in.v), vector_view<const float>(u),
                         matrix_view<float>{y.data(), T, C});
            ops::wkv6<N>(cuda{}, ds, dr.matrix(T, C), dw.matrix(T, C), dk.matrix(T, C), dv.matrix(T, C),
                         vector_view<const float, cuda_space>(du.vector()), dy.matrix(T, C));
        } else {
            ops::wkv7<N>(reference{}, hs, hm(in.r), hm(in.w), hm(in.k), hm(in.v), hm(in.a), hm(in.b),
                         matrix_view<float>{y.data(), T, C});
            ops::wkv7<N>(cuda{}, ds, dr.matrix(T, C), dw.matrix(T, C), dk.matrix(T, C), dv.matrix(T, C),
                         da.matrix(T, C), db.matrix(T, C), dy.matrix(T, C));
        }
        CHECK(max_relative_diff(dy.to_host(), y) <= 1e-5f);
        CHECK(max_relative_diff(dst.to_host(), st) <= 1e-5f);
    }
    // RWKV-7's bonus term and GOLD attention (keys: the first T − 2 rows are context before the queries).
    const std::vector<float> r_k = random_values(C, 19);
    on_device<float> drk{std::span<const float>(r_k)};
    std::copy(in.v.begin(), in.v.end(), y.begin());
    deep_copy(dy.data, dv.data);
    ops::wkv7_bonus(reference{}, N, hm(in.r), hm(in.k), hm(in.v), vector_view<const float>(r_k),
                    matrix_view<float>{y.data(), T, C});
    ops::wkv7_bonus(cuda{}, N, dr.matrix(T, C), dk.matrix(T, C), dv.matrix(T, C),
                    vector_view<const float, cuda_space>(drk.vector()), dy.matrix(T, C));
    CHECK(max_relative_diff(dy.to_host(), y) <= 1e-5f);
    const std::size_t queries = 2;
    ops::gold_attention<N>(reference{}, const_matrix_view<float>{in.r.data() + (T - queries) * C, queries, C}, hm(in.k),
                           hm(in.v), matrix_view<float>{y.data(), queries, C});
    ops::gold_attention<N>(cuda{}, dr.matrix(T, C).rows_slice(T - queries, queries), dk.matrix(T, C), dv.matrix(T, C),
                           dy.matrix(queries, C));
    const auto attended = dy.to_host();
    CHECK(max_relative_diff(std::span(attended).first(queries * C), std::span(y).first(queries * C)) <= 1e-5f);
}

}  // namespace

TEST_CASE("CUDA: the WKV scans, the bonus term and GOLD attention match the reference kernels", "[cuda][kernels]") {
    if (!gpu_visible()) return;
    SECTION("RWKV-4") {
        const std::size_t T = 6, C = 80;
        const auto k = random_values(T * C, 1), v = random_values(T * C, 2), w = random_values(C, 3, -1.0f, -0.1f),
                   u = random_values(C, 4);
        std::vector<float> aa(C, 0.0f), bb(C, 0.0f), pp(C, -1e30f), y(T * C);
        on_device<float> dk{std::span<const float>(k)}, dv{std::span<const float>(v)}, dw{std::span<const float>(w)},
            du{std::span<const float>(u)}, daa{std::span<const float>(aa)}, dbb{std::span<const float>(bb)},
            dpp{std::span<const float>(pp)}, dy(T * C);
        ops::wkv4(reference{}, vector_view<float>(aa), vector_view<float>(bb), vector_view<float>(pp),
                  vector_view<const float>(w), vector_view<const float>(u), const_matrix_view<float>{k.data(), T, C},
                  const_matrix_view<float>{v.data(), T, C}, matrix_view<float>{y.data(), T, C});
        ops::wkv4(cuda{}, daa.vector(), dbb.vector(), dpp.vector(), vector_view<const float, cuda_space>(dw.vector()),
                  vector_view<const float, cuda_space>(du.vector()), dk.matrix(T, C), dv.matrix(T, C), dy.matrix(T, C));
        CHECK(max_relative_diff(dy.to_host(), y) <= 1e-5f);
        CHECK(max_relative_diff(daa.to_host(), aa) <= 1e-5f);
        CHECK(max_relative_diff(dbb.to_host(), bb) <= 1e-5f);
        CHECK(max_relative_diff(dpp.to_host(), pp) <= 1e-5f);
    }
    SECTION("head size 32") { check_scans<32>(7, 3); }
    SECTION("head size 64") { check_scans<64>(5, 2); }
    SECTION("head size 128") { check_scans<128>(4, 2); }
}

namespace {

template <class CudaModel, class ReferenceModel>
void check_model(const CudaModel& gpu, const ReferenceModel& ref, std::span<const std::int32_t> tokens,
                 const rwkv_test::golden_files& files, float bound) {
    const std::size_t V = ref.cfg().n_vocab;
    for (std::size_t prefill : {std::size_t{0}, std::size_t{11}, tokens.size()}) {
        INFO("prefill " << prefill);
        auto st_gpu = gpu.make_state();
        auto st_ref = ref.make_state();
        const auto logits_gpu = rwkv_test::run_mixed(gpu, tokens, prefill, st_gpu, 5);
        const auto logits_ref = rwkv_test::run_mixed(ref, tokens, prefill, st_ref, 5);
        CHECK(max_relative_diff(logits_gpu, logits_ref) <= bound);
        const state back = st_gpu.to_host();
        CHECK(max_relative_diff(back.values(), st_ref.values()) <= bound);
        CHECK(back.cache_size() == st_ref.cache_size());
        if (std::is_same_v<typename CudaModel::precision_type, precision::f32> &&
            std::filesystem::exists(files.dir / (files.prefix + ".logits.f32"))) {
            const auto expected = rwkv_test::read_f32(files.dir / (files.prefix + ".logits.f32"));
            if (expected.size() == logits_gpu.size()) CHECK(rwkv_test::max_abs_diff(logits_gpu, expected) <= 1e-4f);
        }
    }
    // A fork on the device continues like the original.
    {
        auto st = gpu.make_state();
        auto ws = gpu.make_workspace(8);
        std::vector<float> a(V), b(V);
        gpu.forward(tokens.first(7), st, ws, a);
        auto fork = st.fork();
        gpu.forward(tokens.subspan(7, 1), st, ws, a);
        gpu.forward(tokens.subspan(7, 1), fork, ws, b);
        CHECK(same_bits(a, b));
    }
    // Three agents at different positions stepped together: each bitwise as when it steps alone.
    {
        auto ws = gpu.make_workspace(16);
        std::vector<decltype(gpu.make_state())> batch, alone;
        for (std::size_t g = 0; g < 3; ++g) {
            batch.push_back(gpu.make_state());
            alone.push_back(gpu.make_state());
        }
        const std::vector<std::size_t> lengths{2, 5, 3};
        std::vector<float> lb(10 * V), la(10 * V);
        std::vector<decltype(gpu.make_state())*> pb{&batch[0], &batch[1], &batch[2]};
        gpu.forward_batch(tokens.first(10), lengths, pb, ws, lb, logits_mode::all);
        std::size_t row = 0;
        for (std::size_t g = 0; g < 3; ++g) {
            gpu.forward(tokens.subspan(row, lengths[g]), alone[g], ws, std::span(la).subspan(row * V, lengths[g] * V),
                        logits_mode::all);
            row += lengths[g];
        }
        CHECK(same_bits(lb, la));
        for (std::size_t g = 0; g < 3; ++g) CHECK(same_bits(batch[g].to_host().values(), alone[g].to_host().values()));
    }
}

template <template <class, class> class Model, class Precision>
void check_architecture(const std::string& prefix, float bound) {
    const auto g = rwkv_test::find_golden(prefix);
    if (g.dir.empty()) {
        WARN("shared goldens not found (../shared/golden): skipping " << prefix << " on CUDA");
        return;
    }
    const auto gpu = Model<cuda, Precision>::load(g.model());
    const auto ref = Model<reference, Precision>::load(g.model());
    check_model(gpu, ref, g.tokens(), g, bound);
}

}  // namespace

TEST_CASE("CUDA: every architecture matches the goldens and the reference backend", "[cuda][golden]") {
    if (!gpu_visible()) return;
    INFO("device: " << cuda_kernels::properties(0).name);
    SECTION("RWKV-4 f32") { check_architecture<rwkv4::model, precision::f32>("v4-c128-l2", 1e-4f); }
    SECTION("RWKV-5.2 f32") { check_architecture<rwkv5::model, precision::f32>("v5-c128-l2", 1e-4f); }
    SECTION("RWKV-6 f32") { check_architecture<rwkv6::model, precision::f32>("v6-c128-l2", 1e-4f); }
    SECTION("RWKV-7 f32") { check_architecture<rwkv7::model, precision::f32>("v7-c128-l2", 1e-4f); }
    SECTION("GoldFinch f32") { check_architecture<goldfinch_model, precision::f32>("goldfinch-c128-l3", 1e-4f); }
    SECTION("RWKV-4 bf16") { check_architecture<rwkv4::model, precision::bf16>("v4-c128-l2", 1e-4f); }
    SECTION("RWKV-5.2 bf16") { check_architecture<rwkv5::model, precision::bf16>("v5-c128-l2", 1e-4f); }
    SECTION("RWKV-6 bf16") { check_architecture<rwkv6::model, precision::bf16>("v6-c128-l2", 1e-4f); }
    SECTION("RWKV-7 bf16") { check_architecture<rwkv7::model, precision::bf16>("v7-c128-l2", 1e-4f); }
    SECTION("GoldFinch bf16") { check_architecture<goldfinch_model, precision::bf16>("goldfinch-c128-l3", 1e-4f); }
    SECTION("RWKV-7 f16") { check_architecture<rwkv7::model, precision::f16>("v7-c128-l2", 1e-4f); }
    // int8/int4 quantize the activations: a last-bit difference upstream may move one code by one step.
    SECTION("RWKV-7 int8") { check_architecture<rwkv7::model, precision::int8>("v7-c128-l2", 2e-2f); }
    SECTION("RWKV-6 int4") { check_architecture<rwkv6::model, precision::int4>("v6-c128-l2", 2e-2f); }
}

TEST_CASE("CUDA: EmbeddingRWKV matches the reference backend", "[cuda][golden][embedding]") {
    if (!gpu_visible()) return;
    const auto dir = rwkv_test::shared_golden_dir();
    if (dir.empty()) {
        WARN("shared goldens not found (../shared/golden): skipping EmbeddingRWKV on CUDA");
        return;
    }
    namespace er = embedding_rwkv;
    const auto gpu = er::model<cuda>::load(dir / "emb-c128-l2.bf16.pth");
    const auto ref = er::model<reference>::load(dir / "emb-c128-l2.bf16.pth");
    std::ifstream f(dir / "emb-c128-l2.tokens.json");
    const auto seqs = nlohmann::json::parse(f).get<std::vector<std::vector<std::int32_t>>>();
    for (auto t : {er::task::retrieval, er::task::classification, er::task::similarity})
        CHECK(max_relative_diff(gpu.embed_batch(seqs, t, er::batch_padding::none),
                                ref.embed_batch(seqs, t, er::batch_padding::none)) <= 1e-4f);
}

TEST_CASE("CUDA: without a device, using the backend is a typed error", "[cuda]") {
    if (cuda::available()) return;
    CHECK_THROWS_AS((buffer<float, cuda_space>(16)), rwkv::error);
    const auto g = rwkv_test::find_golden("v7-c128-l2");
    if (!g.dir.empty()) CHECK_THROWS_AS(rwkv7::model<cuda>::load(g.model()), rwkv::error);
}

#else

TEST_CASE("CUDA backend", "[cuda]") { WARN("built without the CUDA backend (RWKV_ENABLE_CUDA is off): no CUDA tests"); }

#endif
