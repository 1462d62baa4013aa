// Every architecture on a backend whose memory the host cannot touch (tests/support/isolated_backend.hpp):
// the proof, without a GPU, that models keep weights, states, caches and workspaces in their
// backend's memory space and cross to the host only through the space's copies. Its kernels are the
// reference kernels, so each run must equal the reference backend's bit for bit — which in turn
// matches the official goldens (test_versions, test_rwkv7, test_goldfinch) — and the goldens are
// checked here too, on the logits copied out of the space.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rwkv/backends/reference.hpp"
#include "rwkv/models/embedding.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv4.hpp"
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "support/isolated_backend.hpp"
#include "model_runs.hpp"
#include "support/golden_models.hpp"
#include "test_support.hpp"

using namespace rwkv;
using rwkv_test::goldfinch_model;
using rwkv_test::same_bits;
using rwkv::testing::isolated_backend;
using rwkv::testing::isolated_space;

namespace {

template <class IsolatedModel, class ReferenceModel>
void check_bitwise(const IsolatedModel& iso, const ReferenceModel& ref, std::span<const std::int32_t> tokens,
                   const rwkv_test::golden_files& files) {
    const std::size_t V = ref.cfg().n_vocab;
    // RNN (prefill 0), mixed (a prefill in chunks of 5, then steps) and sequence mode.
    for (std::size_t prefill : {std::size_t{0}, std::size_t{11}, tokens.size()}) {
        INFO("prefill " << prefill);
        auto st_iso = iso.make_state();
        auto st_ref = ref.make_state();
        static_assert(!std::is_same_v<decltype(st_iso), state>, "the isolated model's state lives in its space");
        const auto logits_iso = rwkv_test::run_mixed(iso, tokens, prefill, st_iso, 5);
        const auto logits_ref = rwkv_test::run_mixed(ref, tokens, prefill, st_ref, 5);
        CHECK(same_bits(logits_iso, logits_ref));
        const state back = st_iso.to_host();
        CHECK(same_bits(back.values(), st_ref.values()));
        CHECK(back.cache_size() == st_ref.cache_size());
        CHECK(std::ranges::equal(back.cache_bytes(), st_ref.cache_bytes()));
        CHECK(std::ranges::equal(back.cache_tokens(), st_ref.cache_tokens()));
        // The golden logits, as copied out of the space.
        if (std::is_same_v<typename IsolatedModel::precision_type, precision::f32> &&
            std::filesystem::exists(files.dir / (files.prefix + ".logits.f32"))) {
            const auto expected = rwkv_test::read_f32(files.dir / (files.prefix + ".logits.f32"));
            if (expected.size() == logits_iso.size()) CHECK(rwkv_test::max_abs_diff(logits_iso, expected) <= 1e-4f);
        }
    }

    // A fork in the space continues like the original; from_host restores a saved state.
    {
        auto st = iso.make_state();
        auto ws = iso.make_workspace(8);
        std::vector<float> a(V), b(V), c(V);
        iso.forward(tokens.first(7), st, ws, a);
        auto fork = st.fork();
        auto restored = std::remove_cvref_t<decltype(st)>::from_host(st.to_host());
        iso.forward(tokens.subspan(7, 1), st, ws, a);
        iso.forward(tokens.subspan(7, 1), fork, ws, b);
        iso.forward(tokens.subspan(7, 1), restored, ws, c);
        CHECK(same_bits(a, b));
        CHECK(same_bits(a, c));
    }

    // Three agents at different positions stepped together, against the reference backend's batch.
    {
        auto ws_iso = iso.make_workspace(16);
        auto ws_ref = ref.make_workspace(16);
        std::vector<decltype(iso.make_state())> si;
        std::vector<state> sr;
        for (std::size_t g = 0; g < 3; ++g) {
            si.push_back(iso.make_state());
            sr.push_back(ref.make_state());
        }
        const std::vector<std::size_t> lengths{2, 5, 3};
        std::vector<float> li(10 * V), lr(10 * V);
        std::vector<decltype(iso.make_state())*> pi{&si[0], &si[1], &si[2]};
        std::vector<state*> pr{&sr[0], &sr[1], &sr[2]};
        iso.forward_batch(tokens.first(10), lengths, pi, ws_iso, li, logits_mode::all);
        ref.forward_batch(tokens.first(10), lengths, pr, ws_ref, lr, logits_mode::all);
        CHECK(same_bits(li, lr));
        iso.forward_batch(tokens.subspan(10, 3), pi, ws_iso, std::span(li).first(3 * V));
        ref.forward_batch(tokens.subspan(10, 3), pr, ws_ref, std::span(lr).first(3 * V));
        CHECK(same_bits(li, lr));
        for (std::size_t g = 0; g < 3; ++g) CHECK(same_bits(si[g].to_host().values(), sr[g].values()));
    }
}

template <template <class, class> class Model, class Precision>
void check_architecture(const std::string& prefix) {
    const auto g = rwkv_test::find_golden(prefix);
    if (g.dir.empty()) {
        WARN("shared goldens not found (../shared/golden): skipping " << prefix << " on the isolated backend");
        return;
    }
    const std::size_t live_before = isolated_space::live_allocations();
    {
        const auto iso = Model<isolated_backend, Precision>::load(g.model());
        const auto ref = Model<backends::reference, Precision>::load(g.model());
        // The weights went into the space; none of them is readable by the host.
        CHECK(isolated_space::live_allocations() > live_before);
        CHECK(isolated_space::contains(iso.io().ln_out_weight.data_handle()));
        CHECK_FALSE(isolated_space::accessible());
        check_bitwise(iso, ref, g.tokens(), g);
    }
    CHECK(isolated_space::live_allocations() == live_before);  // models, states, workspaces: nothing leaks
}

}  // namespace

TEST_CASE("every architecture runs in a memory space the host cannot touch, bitwise the reference backend",
          "[memory_space][isolated]") {
    SECTION("RWKV-4 f32") { check_architecture<rwkv4::model, precision::f32>("v4-c128-l2"); }
    SECTION("RWKV-5.2 f32") { check_architecture<rwkv5::model, precision::f32>("v5-c128-l2"); }
    SECTION("RWKV-6 f32") { check_architecture<rwkv6::model, precision::f32>("v6-c128-l2"); }
    SECTION("RWKV-7 f32") { check_architecture<rwkv7::model, precision::f32>("v7-c128-l2"); }
    SECTION("RWKV-7 bf16") { check_architecture<rwkv7::model, precision::bf16>("v7-c128-l2"); }
    SECTION("RWKV-7 int8") { check_architecture<rwkv7::model, precision::int8>("v7-c128-l2"); }
    SECTION("RWKV-6 int4") { check_architecture<rwkv6::model, precision::int4>("v6-c128-l2"); }
    SECTION("GoldFinch f32") { check_architecture<goldfinch_model, precision::f32>("goldfinch-c128-l3"); }
    SECTION("GoldFinch bf16 (a bf16 cache)") {
        check_architecture<goldfinch_model, precision::bf16>("goldfinch-c128-l3");
    }
}

TEST_CASE("EmbeddingRWKV and its reranker run in a memory space the host cannot touch, bitwise the reference backend",
          "[memory_space][isolated][embedding]") {
    const auto dir = rwkv_test::shared_golden_dir();
    if (dir.empty()) {
        WARN("shared goldens not found (../shared/golden): skipping EmbeddingRWKV on the isolated backend");
        return;
    }
    namespace er = embedding_rwkv;
    const std::size_t live_before = isolated_space::live_allocations();
    {
        const auto iso = er::model<isolated_backend>::load(dir / "emb-c128-l2.bf16.pth");
        const auto ref = er::model<backends::reference>::load(dir / "emb-c128-l2.bf16.pth");
        std::ifstream f(dir / "emb-c128-l2.tokens.json");
        const auto seqs = nlohmann::json::parse(f).get<std::vector<std::vector<std::int32_t>>>();
        std::vector<er::model<isolated_backend>::state_type> iso_states;
        std::vector<state> ref_states;
        for (auto t : {er::task::retrieval, er::task::classification, er::task::similarity})
            CHECK(same_bits(iso.embed_batch(seqs, t, er::batch_padding::none, &iso_states),
                            ref.embed_batch(seqs, t, er::batch_padding::none, &ref_states)));
        CHECK(same_bits(iso.embed_batch(seqs, er::task::retrieval, er::batch_padding::left),
                        ref.embed_batch(seqs, er::task::retrieval, er::batch_padding::left)));
        REQUIRE(iso_states.size() == ref_states.size());
        for (std::size_t i = 0; i < iso_states.size(); ++i)
            CHECK(same_bits(iso_states[i].to_host().values(), ref_states[i].values()));

        // The reranker moves WKV matrices between states within the space.
        const auto rr_iso = er::reranker<isolated_backend>::load(dir / "emb-c128-l2-reranker.safetensors");
        const auto rr_ref = er::reranker<backends::reference>::load(dir / "emb-c128-l2-reranker.safetensors");
        for (std::size_t i = 0; i < iso_states.size(); ++i) {
            const float a = rr_iso.logit(iso_states[i]), b = rr_ref.logit(ref_states[i]);
            CHECK(std::memcmp(&a, &b, sizeof a) == 0);
        }
        CHECK_FALSE(isolated_space::accessible());
    }
    CHECK(isolated_space::live_allocations() == live_before);
}
