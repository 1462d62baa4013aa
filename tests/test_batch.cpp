// Many agents, one model: forward_batch steps B states at once, and each agent's logits and final
// state are bitwise those of stepping it alone (the determinism contract for games that replay).
#include <catch2/catch.hpp>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "rwkv/any_model.hpp"
#include "test_support.hpp"

using namespace rwkv;

namespace {

struct model_case {
    std::filesystem::path file;
    std::string backend, precision;
    std::size_t threads = 1;
};

std::vector<model_case> cases() {
    std::vector<std::filesystem::path> files{rwkv_test::data_dir() / "v7-c128-l2.safetensors"};
    if (const auto g = rwkv_test::shared_golden_dir(); !g.empty()) {
        for (const char* f : {"v4-c128-l2.safetensors", "v5-c128-l2.safetensors", "v6-c128-l2.safetensors",
                              "v7-c128-l2.safetensors", "goldfinch-c128-l3.safetensors"})
            files.push_back(g / f);
    } else {
        WARN("shared goldens not found (../shared/golden): forward_batch runs on tests/data's RWKV-7 only");
    }
    std::vector<model_case> out;
    for (const auto& f : files) {
        out.push_back({f, "reference", "f32", 1});
        out.push_back({f, "reference", "int8", 1});
        out.push_back({f, "cpu", "f32", 2});
        out.push_back({f, "cpu", "bf16", 1});
        out.push_back({f, "cpu", "int8", 2});
        out.push_back({f, "cpu", "int4", 1});
    }
    return out;
}

any_model open(const model_case& c) {
    open_options opt;
    opt.backend = c.backend;
    opt.precision = c.precision;
    opt.threads = c.threads;
    opt.max_context = 256;
    return any_model::open(c.file, opt);
}

std::string describe(const model_case& c) {
    return c.file.filename().string() + " on " + c.backend + " (" + c.precision + ", " + std::to_string(c.threads) +
           " threads)";
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool same_state(const state& a, const state& b) {
    return same_bits(a.values(), b.values()) && a.cache_size() == b.cache_size() &&
           std::ranges::equal(a.cache_bytes(), b.cache_bytes()) && std::ranges::equal(a.cache_tokens(), b.cache_tokens());
}

std::int32_t token_for(std::size_t agent, std::size_t step, std::size_t vocab) {
    return static_cast<std::int32_t>((7 * agent + 13 * step + 1) % vocab);
}

}  // namespace

TEST_CASE("forward_batch: every agent's decode step is bitwise its step alone, at any batch size and order",
          "[batch]") {
    for (const auto& c : cases()) {
        const auto m = open(c);
        const std::size_t V = m.summary().n_vocab;
        auto ws_alone = m.make_workspace(16);
        for (std::size_t B : {std::size_t{1}, std::size_t{3}, std::size_t{16}}) {
            INFO(describe(c) << ", B = " << B);
            // Agents at different positions: agent g has read (g % 5) + 1 prompt tokens.
            std::vector<state> alone, batched;
            std::vector<float> scratch(V);
            for (std::size_t g = 0; g < B; ++g) {
                alone.push_back(m.make_state());
                std::vector<std::int32_t> prompt(g % 5 + 1);
                for (std::size_t t = 0; t < prompt.size(); ++t) prompt[t] = token_for(g, 100 + t, V);
                m.forward(prompt, alone.back(), *ws_alone, scratch);
                batched.push_back(alone.back());
            }
            auto ws_batch = m.make_workspace(B);
            std::vector<float> logits_alone(B * V), logits_batch(B * V);
            for (std::size_t step = 0; step < 4; ++step) {
                // Odd steps list the agents in reverse: order must not matter either.
                std::vector<std::size_t> order(B);
                std::iota(order.begin(), order.end(), std::size_t{0});
                if (step % 2 == 1) std::reverse(order.begin(), order.end());
                std::vector<state*> ptrs;
                std::vector<std::int32_t> tokens;
                for (std::size_t g : order) {
                    ptrs.push_back(&batched[g]);
                    tokens.push_back(token_for(g, step, V));
                }
                m.forward_batch(tokens, {}, ptrs, *ws_batch, logits_batch);
                for (std::size_t i = 0; i < B; ++i) {
                    const std::size_t g = order[i];
                    const std::int32_t tok = tokens[i];
                    m.forward(std::span(&tok, 1), alone[g], *ws_alone, std::span(logits_alone).subspan(g * V, V));
                    INFO("step " << step << ", agent " << g << " at batch row " << i);
                    CHECK(same_bits(std::span(logits_batch).subspan(i * V, V), std::span(logits_alone).subspan(g * V, V)));
                    CHECK(same_state(batched[g], alone[g]));
                }
            }
        }
    }
}

TEST_CASE("forward_batch: variable-length prompts in one batched prefill match each prompt alone", "[batch]") {
    for (const auto& c : cases()) {
        INFO(describe(c));
        const auto m = open(c);
        const std::size_t V = m.summary().n_vocab;
        const std::vector<std::size_t> lengths{5, 1, 9, 2};
        const std::size_t B = lengths.size(), rows = std::accumulate(lengths.begin(), lengths.end(), std::size_t{0});
        std::vector<std::int32_t> tokens(rows);
        for (std::size_t i = 0; i < rows; ++i) tokens[i] = token_for(i, 3, V);

        std::vector<state> batched, alone;
        std::vector<state*> ptrs;
        for (std::size_t g = 0; g < B; ++g) batched.push_back(m.make_state()), alone.push_back(m.make_state());
        for (auto& s : batched) ptrs.push_back(&s);
        auto ws = m.make_workspace(rows);
        std::vector<float> last(B * V), all(rows * V);
        m.forward_batch(tokens, lengths, ptrs, *ws, last, logits_mode::last);

        std::vector<state> again;
        std::vector<state*> again_ptrs;
        for (std::size_t g = 0; g < B; ++g) again.push_back(m.make_state());
        for (auto& s : again) again_ptrs.push_back(&s);
        m.forward_batch(tokens, lengths, again_ptrs, *ws, all, logits_mode::all);

        std::vector<float> alone_all(rows * V);
        for (std::size_t g = 0, row = 0; g < B; row += lengths[g], ++g) {
            m.forward(std::span(tokens).subspan(row, lengths[g]), alone[g], *ws,
                      std::span(alone_all).subspan(row * V, lengths[g] * V), logits_mode::all);
            INFO("agent " << g);
            CHECK(same_bits(std::span(last).subspan(g * V, V),
                            std::span(alone_all).subspan((row + lengths[g] - 1) * V, V)));
            CHECK(same_state(batched[g], alone[g]));
            CHECK(same_state(again[g], alone[g]));
        }
        CHECK(same_bits(all, alone_all));
    }
}

TEST_CASE("forward_batch: bad arguments are invalid_argument naming the problem", "[batch]") {
    const auto m = any_model::open(rwkv_test::data_dir() / "v7-c128-l2.safetensors");
    const std::size_t V = m.summary().n_vocab;
    auto a = m.make_state(), b = m.make_state();
    auto ws = m.make_workspace(2);
    std::vector<float> logits(3 * V);
    const std::vector<std::int32_t> two{1, 2}, three{1, 2, 3};
    std::vector<state*> shared{&a, &a}, pair{&a, &b}, none;
    const auto throws = [&](auto&& call, const std::string& what) {
        CHECK_THROWS_WITH(call(), Catch::Contains(what));
        CHECK_THROWS_AS(call(), invalid_argument);
    };
    throws([&] { m.forward_batch(two, {}, shared, *ws, logits); }, "share one state");
    throws([&] { m.forward_batch(three, {}, pair, *ws, logits); }, "3 tokens");
    throws([&] { m.forward_batch({}, {}, none, *ws, logits); }, "no agents");
    const std::vector<std::size_t> lengths{2, 1}, zero{2, 0}, one_length{3};
    throws([&] { m.forward_batch(three, lengths, pair, *ws, logits); }, "do not fit the workspace");
    throws([&] { m.forward_batch(two, zero, pair, *ws, logits); }, "agent 1 has no tokens");
    throws([&] { m.forward_batch(three, one_length, pair, *ws, logits); }, "1 lengths for 2 agents");
    throws([&] { m.forward_batch(two, {}, pair, *ws, std::span(logits).first(V)); }, "needs");
    const std::vector<std::int32_t> bad{1, static_cast<std::int32_t>(V)};
    throws([&] { m.forward_batch(bad, {}, pair, *ws, logits); }, "out of range");
}
