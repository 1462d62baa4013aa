// EmbeddingRWKV and its state-based reranker against the official goldens (emb-c128-l2*): the three
// task heads, pooled and per-position features, final states, streaming, the left-padded batch,
// reranker logits online/offline/padded; layer selection, legacy names, checkpoint variants; typed
// errors; tensor_file::select_prefix; and the rwkv-cli embed/rerank commands.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/embedding.hpp"
#include "rwkv/io/safetensors.hpp"
#include "rwkv/tooling/embedding_evaluation.hpp"
#include "rwkv/text/world_tokenizer.hpp"
#include "test_support.hpp"

using namespace rwkv;
namespace er = rwkv::embedding_rwkv;
using Catch::Matchers::Contains;
using rwkv_test::read_f32;

namespace {

constexpr float tolerance = 1e-4f;
using token_lists = std::vector<std::vector<std::int32_t>>;

std::filesystem::path golden(const std::string& suffix) {
    return rwkv_test::shared_golden_dir() / ("emb-c128-l2" + suffix);
}

bool have_goldens() {
    if (!rwkv_test::shared_golden_dir().empty() && std::filesystem::exists(golden(".bf16.pth"))) return true;
    WARN("shared goldens emb-c128-l2* not found: skipping");
    return false;
}

nlohmann::json read_json(const std::filesystem::path& p) {
    std::ifstream f(p);
    return nlohmann::json::parse(f);
}

token_lists golden_sequences() { return read_json(golden(".tokens.json")).get<token_lists>(); }

using rwkv_test::max_abs_diff;

// One load per test binary (the model is read-only).
const er::model<>& emb_model() {
    static const auto m = er::model<>::load(golden(".bf16.pth"));
    return m;
}
const er::reranker<>& rr_model() {
    static const auto r = er::reranker<>::load(golden("-reranker.pth"));
    return r;
}

// The final state of `tokens` run from zero.
state run_state(std::span<const std::int32_t> tokens) {
    const auto& m = emb_model();
    auto st = m.make_state();
    auto ws = m.make_workspace(16);
    m.advance(tokens, st, ws);
    return st;
}

template <class Fn>
std::string message_of(Fn&& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no exception)";
}

// A copy of a checkpoint's tensors as .safetensors, edited by `edit` (names → entries).
template <class Edit>
void write_edited(const io::tensor_file& src, const std::filesystem::path& out, Edit&& edit,
                  const std::map<std::string, std::string>& metadata = {}) {
    std::vector<io::tensor_to_write> w;
    for (const auto& t : src.tensors()) w.push_back({t.name, t.type, t.shape, t.bytes});
    edit(w);
    io::write_safetensors(out, w, metadata);
}

}  // namespace

TEST_CASE("embedding_rwkv embeddings match the goldens for every head", "[embedding][golden]") {
    if (!have_goldens()) return;
    const auto& m = emb_model();
    const auto seqs = golden_sequences();
    REQUIRE(m.dim() == 128);
    REQUIRE(m.cfg().n_layer == 2);

    for (auto [head, file] : {std::pair{"retr", ".emb.f32"}, {"cls", ".emb-cls.f32"}, {"sts", ".emb-sts.f32"}}) {
        const er::task t = er::parse_task(head);
        const auto expected = read_f32(golden(file));
        // The batch helper (each sequence from the zero state) ...
        const auto batch = m.embed_batch(seqs, t);
        const float d = max_abs_diff(batch, expected);
        INFO(head << " max |d| = " << d);
        CHECK(d <= tolerance);
        // ... and one call per sequence through a small workspace (chunks of 4 tokens).
        auto ws = m.make_workspace(4);
        std::vector<float> one(m.dim());
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            auto st = m.make_state();
            m.embed(seqs[i], st, ws, one, t);
            CHECK(max_abs_diff(one, std::span(expected).subspan(i * 128, 128)) <= tolerance);
        }
    }
    // The convenience overload defaults to [RETR].
    const auto retr = read_f32(golden(".emb.f32"));
    CHECK(max_abs_diff(m.embed(seqs[3]), std::span(retr).subspan(3 * 128, 128)) <= tolerance);
}

TEST_CASE("embedding_rwkv pooled and per-position features, final states", "[embedding][golden]") {
    if (!have_goldens()) return;
    const auto& m = emb_model();
    const auto seqs = golden_sequences();
    auto ws = m.make_workspace(8);
    std::vector<float> pooled, hidden, states;
    std::vector<float> p(m.dim());
    for (const auto& s : seqs) {
        auto st = m.make_state();
        m.pool(s, st, ws, p);
        pooled.insert(pooled.end(), p.begin(), p.end());
        const auto v = er::to_package_layout(st);
        states.insert(states.end(), v.begin(), v.end());

        auto st2 = m.make_state();
        std::vector<float> h(s.size() * m.dim());
        m.features(s, st2, ws, h);
        hidden.insert(hidden.end(), h.begin(), h.end());
        CHECK(st2.values().size() == st.values().size());
        CHECK(max_abs_diff(st2.values(), st.values()) == 0.0f);
    }
    const float dp = max_abs_diff(pooled, read_f32(golden(".pooled.f32")));
    const float dh = max_abs_diff(hidden, read_f32(golden(".hidden.f32")));
    const float ds = max_abs_diff(states, read_f32(golden(".state.f32")));
    INFO("pooled " << dp << ", hidden " << dh << ", state " << ds);
    CHECK(dp <= tolerance);
    CHECK(dh <= tolerance);
    CHECK(ds <= tolerance);

    // embed_batch hands back the same final states; the package layout round-trips.
    std::vector<state> finals;
    m.embed_batch(seqs, er::task::retrieval, er::batch_padding::none, &finals);
    REQUIRE(finals.size() == seqs.size());
    std::vector<float> from_batch;
    for (const auto& st : finals) {
        const auto v = er::to_package_layout(st);
        from_batch.insert(from_batch.end(), v.begin(), v.end());
        auto back = m.make_state();
        er::from_package_layout(v, back);
        CHECK(max_abs_diff(back.values(), st.values()) == 0.0f);
    }
    CHECK(max_abs_diff(from_batch, read_f32(golden(".state.f32"))) <= tolerance);

    // last_token pooling (full_output=False) equals the default when the only EOS is the last token.
    auto a = m.make_state(), b = m.make_state();
    std::vector<float> e1(m.dim()), e2(m.dim());
    m.embed(seqs[0], a, ws, e1);
    m.embed(seqs[0], b, ws, e2, er::task::retrieval, er::pooling::last_token);
    CHECK(max_abs_diff(e1, e2) == 0.0f);
}

TEST_CASE("embedding_rwkv streaming and the left-padded batch", "[embedding][golden]") {
    if (!have_goldens()) return;
    const auto& m = emb_model();
    const auto seqs = golden_sequences();
    const auto chunks = read_json(golden(".stream.json"))["chunks"].get<std::vector<std::vector<std::size_t>>>();
    REQUIRE(chunks.size() == seqs.size());
    auto ws = m.make_workspace(16);
    std::vector<float> streamed, e(m.dim());
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        auto st = m.make_state();
        const auto& c = chunks[i];
        for (std::size_t k = 0; k + 1 < c.size(); ++k) {
            const auto part = std::span(seqs[i]).subspan(c[k], c[k + 1] - c[k]);
            const bool has_eos = std::ranges::find(part, er::eos_token) != part.end();
            if (k + 2 == c.size()) {
                m.embed(part, st, ws, e);  // the last call's embedding pools only its own EOS
            } else if (has_eos) {
                m.embed(part, st, ws, e);  // the package returns (and drops) this one too
            } else {
                m.advance(part, st, ws);  // the package would return NaN here; we refuse to pool
            }
        }
        streamed.insert(streamed.end(), e.begin(), e.end());
    }
    const float ds = max_abs_diff(streamed, read_f32(golden(".stream-emb.f32")));
    INFO("stream max |d| = " << ds);
    CHECK(ds <= tolerance);

    const auto padded = m.embed_batch(seqs, er::task::retrieval, er::batch_padding::left);
    const float dp = max_abs_diff(padded, read_f32(golden(".batch-padded-emb.f32")));
    INFO("padded batch max |d| = " << dp);
    CHECK(dp <= tolerance);
    // Padding is not neutral (docs/spec/embedding.md §4): the padded embeddings differ from the single calls.
    CHECK(max_abs_diff(padded, read_f32(golden(".emb.f32"))) > 0.1f);
}

TEST_CASE("reranker logits match the goldens online, offline and padded", "[reranker][golden]") {
    if (!have_goldens()) return;
    const auto& m = emb_model();
    const auto j = read_json(golden(".rerank-tokens.json"));
    const auto docs = j["docs"].get<token_lists>();
    const auto query = j["query"].get<std::vector<std::int32_t>>();
    const auto rr_st = er::reranker<>::load(golden("-reranker.safetensors"));
    CHECK(rr_model().cfg().n_layer == 2);
    CHECK(rr_model().layer_index().empty());

    std::size_t longest = 0;
    for (const auto& d : docs) longest = std::max(longest, d.size() + query.size());
    auto ws = m.make_workspace(8);
    auto rws = rr_model().make_workspace();
    std::vector<float> online, online_st, offline, padded;
    for (const auto& d : docs) {
        std::vector<std::int32_t> pair = d;
        pair.insert(pair.end(), query.begin(), query.end());
        const auto st = run_state(pair);
        online.push_back(rr_model().logit(st, rws));
        online_st.push_back(rr_st.logit(st));

        auto doc_state = run_state(d);  // offline: cache the document state, run the query on a fork
        auto q = doc_state.fork();
        m.advance(query, q, ws);
        offline.push_back(rr_model().logit(q, rws));

        std::vector<std::int32_t> p(longest - pair.size(), er::pad_token);
        p.insert(p.end(), pair.begin(), pair.end());
        padded.push_back(rr_model().logit(run_state(p), rws));
    }
    const float d_on = max_abs_diff(online, read_f32(golden(".rerank-online.f32")));
    const float d_off = max_abs_diff(offline, read_f32(golden(".rerank-offline.f32")));
    const float d_pad = max_abs_diff(padded, read_f32(golden(".rerank-online-padded.f32")));
    INFO("online " << d_on << ", offline " << d_off << ", padded " << d_pad);
    CHECK(d_on <= tolerance);
    CHECK(d_off <= tolerance);
    CHECK(d_pad <= tolerance);
    CHECK(max_abs_diff(online_st, online) == 0.0f);  // .safetensors = .pth
    CHECK(er::reranker<>::score(online[0]) == Approx(1.0 / (1.0 + std::exp(-static_cast<double>(online[0])))));
}

TEST_CASE("embedding_rwkv bf16 weights, training-layout layer 0 and the reranker's layer selection",
          "[embedding][reranker]") {
    if (!have_goldens()) return;
    const auto seqs = golden_sequences();
    // The file is bf16, so the bf16 policy holds the same weights.
    const auto bf = er::model<backends::reference, precision::bf16>::load(golden(".bf16.pth"));
    CHECK(max_abs_diff(bf.embed_batch(seqs), read_f32(golden(".emb.f32"))) <= tolerance);

    rwkv_test::temp_dir dir;
    const auto emb_file = io::tensor_file::open(golden(".bf16.pth"));
    SECTION("layer 0 with v0/v1/v2 (training layout) is the same model") {
        const std::vector<std::uint16_t> zeros(128 * 32, 0);  // bf16 zeros, never read
        const auto bytes = std::as_bytes(std::span(zeros));
        write_edited(emb_file, dir.path / "training.safetensors", [&](auto& w) {
            w.push_back({"rwkv.blocks.0.att.v0", dtype::bf16, {1, 1, 128}, bytes.first(256)});
            w.push_back({"rwkv.blocks.0.att.v1", dtype::bf16, {128, 32}, bytes});
            w.push_back({"rwkv.blocks.0.att.v2", dtype::bf16, {32, 128}, bytes});
        });
        const auto m = er::model<>::load(dir.path / "training.safetensors");
        CHECK(max_abs_diff(m.embed_batch(seqs), read_f32(golden(".emb.f32"))) <= tolerance);
    }
    SECTION("a one-block reranker reading embedding layer 1, with the legacy token name") {
        const auto rr_file = io::tensor_file::open(golden("-reranker.pth"));
        auto one_block = [&](auto& w) {
            std::erase_if(w, [](const io::tensor_to_write& t) { return t.name.starts_with("reranker.blocks.1."); });
            for (auto& t : w)
                if (t.name == "reranker.emb.weight") t.name = "reranker.token.weight";
        };
        write_edited(rr_file, dir.path / "rr1.safetensors", one_block, {{"reranker_layer_idx", "[1]"}});
        write_edited(rr_file, dir.path / "rr1-plain.safetensors", one_block);
        const auto sel = er::reranker<>::load(dir.path / "rr1.safetensors");
        const auto plain = er::reranker<>::load(dir.path / "rr1-plain.safetensors");
        REQUIRE(sel.cfg().n_layer == 1);
        REQUIRE(sel.layer_index().size() == 1);
        CHECK(sel.layer_index()[0] == 1);

        const auto st = run_state(seqs[1]);
        auto swapped = st.fork();  // layer 1's WKV matrices moved into layer 0
        std::ranges::copy(st.entry(3 * 1 + 1), swapped.entry(3 * 0 + 1).begin());
        const float l_sel = sel.logit(st);
        CHECK(l_sel == plain.logit(swapped));
        CHECK(l_sel != plain.logit(st));
        // An explicit selection overrides the file's; negative indices count from the end.
        const er::reranker<> neg(io::tensor_file::open(dir.path / "rr1.safetensors"), std::vector<std::int64_t>{-1});
        CHECK(neg.logit(st) == l_sel);
        const er::reranker<> zero(io::tensor_file::open(dir.path / "rr1.safetensors"), std::vector<std::int64_t>{0});
        CHECK(zero.logit(st) == plain.logit(st));

        // The full reranker with its layers swapped reads the swapped state.
        const er::reranker<> rev(io::tensor_file::open(golden("-reranker.pth")), std::vector<std::int64_t>{1, 0});
        auto both = st.fork();
        std::ranges::copy(st.entry(3 * 1 + 1), both.entry(3 * 0 + 1).begin());
        std::ranges::copy(st.entry(3 * 0 + 1), both.entry(3 * 1 + 1).begin());
        CHECK(rev.logit(st) == rr_model().logit(both));

        write_edited(rr_file, dir.path / "bad-idx.safetensors", one_block, {{"reranker_layer_idx", "[0, 1]"}});
        CHECK_THROWS_AS(er::reranker<>::load(dir.path / "bad-idx.safetensors"), model_error);
        write_edited(rr_file, dir.path / "junk-idx.safetensors", one_block, {{"reranker_layer_idx", "one"}});
        CHECK_THROWS_AS(er::reranker<>::load(dir.path / "junk-idx.safetensors"), format_error);
        CHECK_THROWS_AS(
            er::reranker<>(io::tensor_file::open(dir.path / "rr1.safetensors"), std::vector<std::int64_t>{0, 1}),
            invalid_argument);
    }
}

TEST_CASE("embedding_rwkv and reranker reject bad input with typed errors", "[embedding][reranker][errors]") {
    CHECK(er::parse_task("retr") == er::task::retrieval);
    CHECK(er::parse_task("[CLS]") == er::task::classification);
    CHECK(er::parse_task("STS") == er::task::similarity);
    CHECK_THROWS_AS(er::parse_task("[QA]"), invalid_argument);
    CHECK_THAT(message_of([] { er::parse_task("rerank"); }), Contains("'rerank'"));
    CHECK(er::cosine_similarity(std::vector<float>{1, 0}, std::vector<float>{2, 0}) == Approx(1.0));
    CHECK(er::cosine_similarity(std::vector<float>{1, 0}, std::vector<float>{0, 3}) == Approx(0.0));
    CHECK_THROWS_AS(er::cosine_similarity(std::vector<float>{1}, std::vector<float>{1, 2}), invalid_argument);
    CHECK(er::parse_layer_index("[0, 6, 11]", "x") == std::vector<std::int64_t>{0, 6, 11});
    CHECK(er::parse_layer_index("2,-1", "x") == std::vector<std::int64_t>{2, -1});
    CHECK_THROWS_AS(er::parse_layer_index("[]", "x"), format_error);
    if (!have_goldens()) return;

    const auto& m = emb_model();
    auto ws = m.make_workspace(4);
    std::vector<float> out(m.dim());
    SECTION("no EOS: invalid_argument, never NaN, state untouched") {
        auto st = m.make_state();
        const std::vector<std::int32_t> no_eos{5, 6, 7};
        CHECK_THAT(message_of([&] { m.embed(no_eos, st, ws, out); }), Contains("EOS") && Contains("65535"));
        CHECK_THROWS_AS(m.embed(no_eos, st, ws, out), invalid_argument);
        CHECK(std::ranges::all_of(st.values(), [](float v) { return v == 0.0f; }));
        CHECK_THROWS_AS(m.embed_batch(token_lists{{1, er::eos_token}, {1, 2}}), invalid_argument);
        CHECK_THAT(message_of([&] { m.embed_batch(token_lists{{1, er::eos_token}, {1, 2}}); }), Contains("sequence 1"));
        CHECK_THROWS_AS(m.embed(std::vector<std::int32_t>{}, st, ws, out), invalid_argument);
        CHECK_THROWS_AS(m.embed(std::vector<std::int32_t>{70000, er::eos_token}, st, ws, out), invalid_argument);
        std::vector<float> small(3);
        CHECK_THROWS_AS(m.embed(std::vector<std::int32_t>{er::eos_token}, st, ws, small), invalid_argument);
    }
    SECTION("reranker: states of another shape are state_error") {
        rwkv7::config other;
        other.n_layer = 2;
        other.n_embd = 256;
        other.n_head = 4;
        other.head_size = 64;
        const state wide(rwkv7::make_state_layout(other));
        CHECK_THROWS_AS(rr_model().logit(wide), state_error);
        CHECK_THAT(message_of([&] { rr_model().logit(wide); }), Contains("4 heads") || Contains("2 heads"));
        other.n_embd = 128;
        other.n_head = 2;
        other.n_layer = 1;  // too shallow for a 2-block reranker
        CHECK_THROWS_AS(rr_model().logit(state(rwkv7::make_state_layout(other))), state_error);
        CHECK_THROWS_AS(rr_model().logit(state{}), invalid_argument);
        // A state of the embedding model is fine; a state of the reranker's own shape too.
        CHECK(std::isfinite(rr_model().logit(m.make_state())));
    }
    SECTION("missing or misplaced tensors are model_error naming them") {
        rwkv_test::temp_dir dir;
        const auto emb_file = io::tensor_file::open(golden(".bf16.pth"));
        write_edited(emb_file, dir.path / "nohead.safetensors", [](auto& w) {
            std::erase_if(w, [](const io::tensor_to_write& t) { return t.name == "head.sts_head.norm.bias"; });
        });
        CHECK_THROWS_AS(er::model<>::load(dir.path / "nohead.safetensors"), model_error);
        CHECK_THAT(message_of([&] { er::model<>::load(dir.path / "nohead.safetensors"); }),
                   Contains("sts_head.norm.bias") && Contains("nohead.safetensors"));
        // A reranker file is not an embedding model, and the other way round.
        CHECK_THROWS_AS(er::model<>::load(golden("-reranker.pth")), model_error);
        CHECK_THROWS_AS(er::reranker<>::load(golden(".bf16.pth")), model_error);
        const auto rr_file = io::tensor_file::open(golden("-reranker.pth"));
        write_edited(rr_file, dir.path / "nohead2.safetensors", [](auto& w) {
            std::erase_if(w, [](const io::tensor_to_write& t) { return t.name == "reranker.head.2.weight"; });
        });
        CHECK_THAT(message_of([&] { er::reranker<>::load(dir.path / "nohead2.safetensors"); }),
                   Contains("2.weight") && Contains("nohead2.safetensors"));
        CHECK_THROWS_AS(er::reranker<>::load(dir.path / "nohead2.safetensors"), model_error);
    }
}

TEST_CASE("tensor_file select_prefix splits embedding checkpoints and shares the mapping", "[embedding][io]") {
    if (!have_goldens()) return;
    io::tensor_file backbone = [] {
        const auto f = io::tensor_file::open(golden("-reranker.safetensors"));
        return f.select_prefix("reranker.", {{"emb.weight", "token.weight"}, {"ln_out.bias", "blocks.0.ln1.bias"}});
    }();  // the original is gone; the spans stay valid
    CHECK(backbone.find("reranker.emb.weight") == nullptr);
    CHECK(backbone.find("emb.weight") == nullptr);
    const auto* tok = backbone.find("token.weight");
    REQUIRE(tok != nullptr);
    CHECK(tok->shape == std::vector<std::int64_t>{1, 128});
    float first = 0;
    std::memcpy(&first, tok->bytes.data(), 4);
    CHECK(std::isfinite(first));
    // A renamed tensor replaces the one that had its new name.
    REQUIRE(backbone.find("blocks.0.ln1.bias") != nullptr);
    CHECK(backbone.find("blocks.0.ln1.bias")->shape == std::vector<std::int64_t>{128});
    CHECK(backbone.find("ln_out.bias") == nullptr);
    CHECK(backbone.tensors().size() == 70);  // 71 minus the replaced ln1.bias
    CHECK_THAT(backbone.display_name(), Contains("reranker.safetensors") && Contains("'reranker.'"));
    CHECK_THAT(message_of([&] { backbone.require("nope"); }), Contains("'reranker.'") && Contains("'nope'"));
    const auto heads = backbone.select_prefix("head.");
    CHECK(heads.tensors().size() == 3);
    CHECK(heads.find("0.bias") != nullptr);
    CHECK(backbone.select_prefix("nothing.").tensors().empty());
}

TEST_CASE("embedding evaluation metrics on a hand-worked example (trec_eval / MTEB definitions)", "[embedding][eval]") {
    namespace ev = er::eval;
    // q1 judges d1 (1), d3 (2) and d5 (1, never retrieved); q2 judges d2 (1); q3 judges only a 0.
    const ev::qrels_map qrels{{"q1", {{"d1", 1}, {"d3", 2}, {"d5", 1}}}, {"q2", {{"d2", 1}}}, {"q3", {{"d1", 0}}}};
    const std::vector<std::string> ids{"d1", "d2", "d3", "d4"};
    std::vector<ev::scored_doc> q1{{ids[3], 0.1}, {ids[1], 0.8}, {ids[0], 0.9}, {ids[2], 0.7}};
    std::vector<ev::scored_doc> q2{{ids[0], 0.5}, {ids[1], 0.5}, {ids[2], 0.9}};
    ev::trec_sort(q1);
    ev::trec_sort(q2);
    CHECK(q1[0].id == "d1");
    CHECK(q1[1].id == "d2");
    CHECK(q2[1].id == "d2");  // the 0.5 tie goes to the larger id, as in trec_eval

    // q1: run d1 d2 d3 d4. DCG = 1/log2(2) + 2/log2(4) = 2; IDCG = 2 + 1/log2(3) + 1/log2(4) = 3.13093.
    const double idcg1 = 2.0 + 1.0 / std::log2(3.0) + 0.5;
    CHECK(ev::ndcg_at(q1, qrels.at("q1"), 10) == Approx(2.0 / idcg1));
    CHECK(ev::ndcg_at(q1, qrels.at("q1"), 1) == Approx(0.5));  // 1 / 2
    CHECK(ev::average_precision_at(q1, qrels.at("q1"), 10) == Approx((1.0 + 2.0 / 3.0) / 3.0));
    CHECK(ev::average_precision_at(q1, qrels.at("q1"), 2) == Approx(1.0 / 3.0));
    CHECK(ev::recall_at(q1, qrels.at("q1"), 100) == Approx(2.0 / 3.0));
    CHECK(ev::recall_at(q1, qrels.at("q1"), 2) == Approx(1.0 / 3.0));
    // q2: run d3 d2 d1. nDCG = (1/log2(3)) / 1; AP = (1/2) / 1; recall 1.
    CHECK(ev::ndcg_at(q2, qrels.at("q2"), 10) == Approx(1.0 / std::log2(3.0)));
    CHECK(ev::average_precision_at(q2, qrels.at("q2"), 10) == Approx(0.5));
    CHECK(ev::recall_at(q2, qrels.at("q2"), 100) == Approx(1.0));

    std::map<std::string, std::vector<ev::scored_doc>> runs{{"q1", q1}, {"q2", q2}, {"unjudged", q2}};
    auto m = ev::evaluate(qrels, runs);
    CHECK(m.queries == 2);
    CHECK(m.ndcg_at_10 == Approx((2.0 / idcg1 + 1.0 / std::log2(3.0)) / 2).epsilon(1e-12));
    CHECK(m.ndcg_at_10 == Approx(0.634859).margin(1e-6));
    CHECK(m.map_at_10 == Approx(0.527778).margin(1e-6));
    CHECK(m.recall_at_100 == Approx(0.833333).margin(1e-6));
    runs.emplace("q3", q1);  // a judged query without a relevant document scores 0
    m = ev::evaluate(qrels, runs);
    CHECK(m.queries == 3);
    CHECK(m.ndcg_at_10 == Approx(0.634859 * 2 / 3).margin(1e-6));

    // Spearman: ranks of b with a tie are 1, 2, 3.5, 5, 3.5 → ρ = 8 / √95.
    CHECK(ev::spearman(std::vector<double>{1, 2, 3, 4, 5}, std::vector<double>{5, 6, 7, 8, 7}) ==
          Approx(8.0 / std::sqrt(95.0)));
    CHECK(ev::spearman(std::vector<double>{1, 2, 3}, std::vector<double>{30, 20, 10}) == Approx(-1.0));
    CHECK_THROWS_AS(ev::spearman(std::vector<double>{1}, std::vector<double>{1}), invalid_argument);

    // Cosine ranking: query (1, 0) prefers d2 = (2, 0.1) over d1 = (0, 1).
    const std::vector<float> queries{1, 0}, docs{0, 1, 2, 0.1f};
    const std::vector<std::string> doc_ids{"d1", "d2"};
    const auto ranked = ev::rank_by_cosine(queries, docs, 2, doc_ids, 10);
    REQUIRE(ranked.size() == 1);
    REQUIRE(ranked[0].size() == 2);
    CHECK(ranked[0][0].id == "d2");
    CHECK(ranked[0][0].score == Approx(2.0 / std::sqrt(4.01)));
}

TEST_CASE("embedding evaluation reads BEIR directories and STS files", "[embedding][eval]") {
    rwkv_test::temp_dir dir;
    auto write = [&](const std::string& name, const std::string& body) {
        std::filesystem::create_directories((dir.path / name).parent_path());
        rwkv_test::write_file_bytes(dir.path / name, body.data(), body.size());
    };
    write("beir/corpus.jsonl",
          "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"Cats purr.\"}\n"
          "\n{\"_id\": 2, \"text\": \"  Dogs bark. \"}\n");
    write("beir/queries.jsonl", "{\"_id\": \"q1\", \"text\": \"purring\"}\n{\"_id\": \"q9\", \"text\": \"x\"}\n");
    write("beir/qrels/test.tsv", "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq1\t2\t0\r\n");
    const auto d = er::eval::load_beir(dir.path / "beir");
    CHECK(d.doc_ids == std::vector<std::string>{"d1", "2"});
    CHECK(d.doc_texts == std::vector<std::string>{"Cats Cats purr.", "Dogs bark."});
    CHECK(d.query_ids == std::vector<std::string>{"q1"});  // q9 is not judged
    CHECK(d.qrels.at("q1").at("2") == 0);
    CHECK_THROWS_AS(er::eval::load_beir(dir.path / "beir", "dev"), io_error);
    write("bad/corpus.jsonl", "{\"_id\": \"d1\"}\n");
    write("bad/queries.jsonl", "{\"_id\": \"q1\", \"text\": \"a\"}\n");
    write("bad/qrels/test.tsv", "q1\td1\t1\n");
    CHECK_THAT(message_of([&] { er::eval::load_beir(dir.path / "bad"); }), Contains("line 1") && Contains("text"));
    write("bad/qrels/test.tsv", "q1\td1\t1\nq1\td2\tmaybe\n");
    CHECK_THROWS_AS(er::eval::load_beir(dir.path / "bad"), format_error);

    write("sts.jsonl",
          "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 4.5}\n"
          "{\"sentence1\": \"c\", \"sentence2\": \"d\", \"score\": 1}\n");
    const auto sts = er::eval::load_sts(dir.path / "sts.jsonl");
    REQUIRE(sts.size() == 2);
    CHECK(sts[0].score == 4.5);
    CHECK(sts[1].second == "d");
    write("sts-bad.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\"}\n");
    CHECK_THROWS_AS(er::eval::load_sts(dir.path / "sts-bad.jsonl"), format_error);
}

// ---- rwkv-cli embed / rerank ---------------------------------------------------------------------
#ifdef RWKV_TEST_CLI
namespace {

struct cli_run {
    int code = -1;
    std::string out, err;
};

cli_run embed_cli(const std::vector<std::string>& args, const rwkv_test::temp_dir& dir) {
    auto r = rwkv_test::run_command(RWKV_TEST_CLI, args, dir);
    return {r.code, std::move(r.out), std::move(r.err)};
}

void check_error(const cli_run& r, int code, const std::string& needle) {
    INFO("stderr: " << r.err);
    CHECK(r.code == code);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_THAT(r.err, Contains(needle));
}

}  // namespace

TEST_CASE("rwkv-cli embed and rerank match the goldens", "[cli][embedding][reranker][golden]") {
    if (!have_goldens()) return;
    rwkv_test::temp_dir dir;
    const std::string model = golden(".bf16.pth").string(), tokens = golden(".tokens.json").string();
    const std::string out = (dir.path / "o.f32").string();
    const std::string states = (dir.path / "s.f32").string();
    for (auto [head, file] : {std::pair{"retr", ".emb.f32"}, {"cls", ".emb-cls.f32"}, {"sts", ".emb-sts.f32"}}) {
        std::vector<std::string> args{"embed", "--model", model, "--tokens", tokens, "--emb-out", out, "--head", head};
        if (head == std::string_view("retr")) args.insert(args.end(), {"--state-out", states});
        const auto r = embed_cli(args, dir);
        REQUIRE(r.code == 0);
        CHECK(max_abs_diff(read_f32(out), read_f32(golden(file))) <= tolerance);
    }
    CHECK(max_abs_diff(read_f32(states), read_f32(golden(".state.f32"))) <= tolerance);
    REQUIRE(embed_cli({"embed", "--model", model, "--tokens", tokens, "--emb-out", out, "--batch-pad"}, dir).code == 0);
    CHECK(max_abs_diff(read_f32(out), read_f32(golden(".batch-padded-emb.f32"))) <= tolerance);

    const std::string pairs = golden(".rerank-tokens.json").string();
    for (auto [mode, reranker, pad, file] : {std::tuple{"online", "-reranker.pth", false, ".rerank-online.f32"},
                                             {"offline", "-reranker.safetensors", false, ".rerank-offline.f32"},
                                             {"online", "-reranker.pth", true, ".rerank-online-padded.f32"}}) {
        std::vector<std::string> args{"rerank",  "--model", model,          "--reranker", golden(reranker).string(),
                                      "--pairs", pairs,     "--logits-out", out,          "--mode",
                                      mode};
        if (pad) args.push_back("--batch-pad");
        const auto r = embed_cli(args, dir);
        INFO(mode << (pad ? " padded: " : ": ") << r.err);
        REQUIRE(r.code == 0);
        CHECK(max_abs_diff(read_f32(out), read_f32(golden(file))) <= tolerance);
    }
}

TEST_CASE("rwkv-cli embed with --text-file and errors of embed/rerank", "[cli][embedding][reranker][errors]") {
    if (!have_goldens()) return;
    rwkv_test::temp_dir dir;
    const std::string model = golden(".bf16.pth").string(), tokens = golden(".tokens.json").string();
    const std::string out = (dir.path / "o.f32").string();
    const std::string pairs = golden(".rerank-tokens.json").string();
    const std::string rr = golden("-reranker.pth").string();

    if (const auto vocab = rwkv_test::world_vocab_path(); !vocab.empty()) {
        const auto texts = dir.path / "texts.txt";
        const std::string body = "Hello world\r\nRWKV embeddings\n\nlast line";
        rwkv_test::write_file_bytes(texts, body.data(), body.size());
        const auto r = embed_cli({"embed", "--model", model, "--vocab", vocab.string(), "--text-file", texts.string(),
                                  "--emb-out", out, "--head", "sts"},
                                 dir);
        INFO(r.err);
        REQUIRE(r.code == 0);
        const auto tok = text::world_tokenizer::from_file(vocab);
        token_lists seqs;
        for (std::string_view line : {"Hello world", "RWKV embeddings", "", "last line"}) {
            seqs.push_back(tok.encode(line));
            seqs.back().push_back(er::eos_token);
        }
        CHECK(max_abs_diff(read_f32(out), emb_model().embed_batch(seqs, er::task::similarity)) <= tolerance);
        check_error(embed_cli({"embed", "--model", model, "--text-file", texts.string(), "--emb-out", out}, dir), 2,
                    "--vocab");
    } else {
        WARN("World vocabulary not found: skipping embed --text-file");
    }
    std::filesystem::remove(out);
    const auto noeos = dir.path / "noeos.json";
    const std::string j = "[[1, 65535], [4, 5, 6]]";
    rwkv_test::write_file_bytes(noeos, j.data(), j.size());
    check_error(embed_cli({"embed", "--model", model, "--tokens", noeos.string(), "--emb-out", out}, dir), 2,
                "sequence 1");
    check_error(embed_cli({"embed", "--model", model, "--tokens", tokens, "--emb-out", out, "--head", "qa"}, dir), 2,
                "'qa'");
    check_error(embed_cli({"embed", "--model", model, "--emb-out", out}, dir), 2, "--tokens");
    check_error(embed_cli({"embed", "--model", model, "--tokens", pairs, "--emb-out", out}, dir), 4,
                "array of token arrays");
    check_error(embed_cli({"embed", "--model", rr, "--tokens", tokens, "--emb-out", out}, dir), 5, "rwkv.");
    check_error(
        embed_cli({"rerank", "--model", model, "--reranker", model, "--pairs", pairs, "--logits-out", out}, dir), 5,
        "reranker.");
    check_error(embed_cli({"rerank", "--model", model, "--reranker", rr, "--pairs", pairs, "--logits-out", out,
                           "--mode", "both"},
                          dir),
                2, "--mode");
    check_error(embed_cli({"rerank", "--model", model, "--reranker", rr, "--pairs", pairs, "--logits-out", out,
                           "--reranker-layers", "0,7"},
                          dir),
                7, "layer 7");
    check_error(embed_cli({"rerank", "--model", model, "--reranker", rr, "--pairs", tokens, "--logits-out", out}, dir),
                4, "docs");
    CHECK_FALSE(std::filesystem::exists(out));  // failures leave no output
}
TEST_CASE("rwkv-cli eval-retrieval runs BEIR retrieval (with reranking) and STS end to end", "[cli][embedding][eval]") {
    const auto vocab = rwkv_test::world_vocab_path();
    if (!have_goldens()) return;
    if (vocab.empty()) {
        WARN("World vocabulary not found: skipping eval-retrieval");
        return;
    }
    rwkv_test::temp_dir dir;
    auto write = [&](const std::string& name, const std::string& body) {
        std::filesystem::create_directories((dir.path / name).parent_path());
        rwkv_test::write_file_bytes(dir.path / name, body.data(), body.size());
    };
    write("beir/corpus.jsonl",
          "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"Cats purr when happy.\"}\n"
          "{\"_id\": \"d2\", \"text\": \"Dogs bark at strangers.\"}\n"
          "{\"_id\": \"d3\", \"text\": \"The stock market fell today.\"}\n"
          "{\"_id\": \"q2\", \"text\": \"Parrots can talk.\"}\n");
    write("beir/queries.jsonl",
          "{\"_id\": \"q1\", \"text\": \"Why do cats purr?\"}\n{\"_id\": \"q2\", \"text\": \"Do dogs bark?\"}\n");
    write("beir/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
    const std::string model = golden(".bf16.pth").string();
    const auto r = embed_cli({"eval-retrieval", "--model", model, "--vocab", vocab.string(), "--data",
                              (dir.path / "beir").string(), "--ignore-identical-ids"},
                             dir);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["queries"] == 2);
    CHECK(j["documents"] == 4);
    CHECK(j["recall_at_100"].get<double>() == Approx(1.0));  // 3 candidates each: everything is retrieved
    for (const char* k : {"ndcg_at_10", "map_at_10"}) {
        CHECK(j[k].get<double>() > 0.0);
        CHECK(j[k].get<double>() <= 1.0);
    }

    // The same numbers from the library: embed, rank, evaluate.
    const auto tok = text::world_tokenizer::from_file(vocab);
    auto embed_all = [&](const std::vector<std::string>& texts) {
        token_lists seqs;
        for (const auto& t : texts) {
            seqs.push_back(tok.encode(t));
            seqs.back().push_back(er::eos_token);
        }
        return emb_model().embed_batch(seqs);
    };
    const auto d = er::eval::load_beir(dir.path / "beir");
    auto ranked = er::eval::rank_by_cosine(embed_all(d.query_texts), embed_all(d.doc_texts), 128, d.doc_ids, 100);
    std::map<std::string, std::vector<er::eval::scored_doc>> runs;
    for (std::size_t q = 0; q < d.query_ids.size(); ++q) {
        std::erase_if(ranked[q], [&](const auto& s) { return s.id == d.query_ids[q]; });
        runs.emplace(d.query_ids[q], ranked[q]);
    }
    const auto m = er::eval::evaluate(d.qrels, runs);
    CHECK(j["ndcg_at_10"].get<double>() == Approx(m.ndcg_at_10).margin(1e-9));
    CHECK(j["map_at_10"].get<double>() == Approx(m.map_at_10).margin(1e-9));

    const auto rr =
        embed_cli({"eval-retrieval", "--model", model, "--vocab", vocab.string(), "--data",
                   (dir.path / "beir").string(), "--reranker", golden("-reranker.pth").string(), "--rerank-top", "2"},
                  dir);
    INFO(rr.err);
    REQUIRE(rr.code == 0);
    const auto jr = nlohmann::json::parse(rr.out);
    CHECK(jr["reranked_top"] == 2);
    CHECK(jr["ndcg_at_10"].get<double>() >= 0.0);

    write("sts.jsonl",
          "{\"sentence1\": \"A cat sleeps.\", \"sentence2\": \"A cat is sleeping.\", \"score\": 5}\n"
          "{\"sentence1\": \"A man plays guitar.\", \"sentence2\": \"The sky is blue.\", \"score\": 0}\n"
          "{\"sentence1\": \"Kids play.\", \"sentence2\": \"Children are playing.\", \"score\": 4}\n");
    const auto s = embed_cli(
        {"eval-retrieval", "--model", model, "--vocab", vocab.string(), "--sts", (dir.path / "sts.jsonl").string()},
        dir);
    INFO(s.err);
    REQUIRE(s.code == 0);
    const auto js = nlohmann::json::parse(s.out);
    CHECK(js["pairs"] == 3);
    CHECK(std::abs(js["cosine_spearman"].get<double>()) <= 1.0);

    check_error(embed_cli({"eval-retrieval", "--model", model, "--vocab", vocab.string()}, dir), 2, "--data");
    check_error(embed_cli({"eval-retrieval", "--model", model, "--vocab", vocab.string(), "--data",
                           (dir.path / "nowhere").string()},
                          dir),
                3, "qrels");
}
#endif
