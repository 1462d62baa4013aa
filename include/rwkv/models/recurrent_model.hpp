// rwkv/models/recurrent_model.hpp — the skeleton every RWKV version shares (docs/spec/rwkv.md §1.3):
//
//   x = E[token]                           (emb with ln0 folded in at load, f32)
//   for each block i:  time mix, then channel mix     ← the architecture's own code
//   logits = head · LN(x; ln_out)
//
// plus chunked sequence mode, argument checks, states and workspaces. An architecture derives
// from recurrent_model (CRTP) and provides `time_mix(i, agents, workspace, T)`,
// `channel_mix(i, agents, workspace, T)` and optionally `initialize_state(state&)` (host edits of
// a fresh host state) and `begin_chunk(tokens, agents, workspace, all_rows)` (called before the
// blocks of each chunk; all_rows is false when only the last row's output is read).
//
// Memory spaces (docs/design.md): weights, states and workspaces live in the backend's memory
// space (space_of<Backend>). The calls here take token ids and give logits in host memory and do
// the copies themselves — none at all in the host space, where the views are the caller's memory.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "rwkv/core/agent_batch.hpp"
#include "rwkv/core/architecture.hpp"
#include "rwkv/core/backend.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/models/loader.hpp"
#include "rwkv/models/workspace.hpp"
#include "rwkv/ops/embedding.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/norm.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv {

// Metadata of a file whose emb.weight is LN(emb; ln0) already (written by rwkv-cli convert).
inline constexpr const char* ln0_folded_metadata_key = "rwkv.emb_ln0_folded";

// The input and output ends of the network.
template <class W, class E = float, memory_space Space = host_space>
struct io_weights {
    const_matrix_view<E, Space> embedding;                       // [V, C]: LN(emb; ln0) (§1.3), f32 or int8 blocks
    vector_view<const float, Space> ln_out_weight, ln_out_bias;  // [C]
    const_matrix_view<W, Space> head;                            // [V, C]; empty for a features-only backbone
};

template <class Derived, backend Backend, precision::policy Precision, class Config, class Workspace>
class recurrent_model {
public:
    using backend_type = Backend;
    using precision_type = Precision;
    using weight_type = typename Precision::weight_type;
    using embedding_type = typename Precision::embedding_type;
    using config_type = Config;
    using workspace_type = Workspace;
    using space = space_of<Backend>;        // where weights, states and workspaces live
    using state_type = basic_state<space>;  // `state` for the host backends
    static_assert(std::is_same_v<typename Workspace::space, space>, "a model's workspace lives in its backend's space");

    recurrent_model(recurrent_model&&) noexcept = default;
    recurrent_model& operator=(recurrent_model&&) noexcept = default;
    recurrent_model(const recurrent_model&) = delete;
    recurrent_model& operator=(const recurrent_model&) = delete;

    const Config& cfg() const noexcept { return cfg_; }
    const Backend& backend() const noexcept { return backend_; }
    const std::string& source() const noexcept { return store_.file.display_name(); }
    const state_layout& layout() const noexcept { return *layout_; }
    const io_weights<weight_type, embedding_type, space>& io() const noexcept { return io_; }

    // The initial state of the architecture (zeros, except where its spec says otherwise), in the
    // backend's space: built on the host and copied there once when the space is not the host's.
    state_type make_state() const {
        state st(layout_);
        if constexpr (requires(const Derived& d, state& s) { d.initialize_state(s); })
            static_cast<const Derived&>(*this).initialize_state(st);
        if constexpr (std::is_same_v<space, host_space>)
            return st;
        else
            return state_type::from_host(st);
    }

    // Scratch for up to `max_tokens` tokens per internal chunk; allocated here, once.
    Workspace make_workspace(std::size_t max_tokens = 64) const { return Workspace(cfg_, max_tokens); }

    // Feeds tokens through the model, updating `st`. logits_mode::last writes the last token's
    // logits ([V]); ::all writes [T, V] row-major; ::none only advances the state. T = 1 is RNN
    // mode; T > 1 is sequence mode (every projection batched over the tokens, the recurrence
    // scanned), run in chunks of ws.capacity tokens with the state carried. Allocates nothing.
    void forward(std::span<const std::int32_t> tokens, state_type& st, Workspace& ws, std::span<float> logits,
                 logits_mode mode = logits_mode::last) const {
        check_forward_args(tokens, st, ws, logits, mode, cfg_.n_vocab, *layout_, "forward");
        require_head(mode, "forward_features or logits_mode::none");
        const std::size_t V = cfg_.n_vocab;
        for (std::size_t done = 0; done < tokens.size();) {
            const std::size_t n = std::min(ws.capacity, tokens.size() - done);
            const bool last_chunk = done + n == tokens.size();
            std::span<float> out;
            logits_mode chunk_mode = logits_mode::none;
            if (mode == logits_mode::all) {
                out = logits.subspan(done * V, n * V);
                chunk_mode = logits_mode::all;
            } else if (mode == logits_mode::last && last_chunk) {
                out = logits.first(V);
                chunk_mode = logits_mode::last;
            }
            forward_chunk(tokens.subspan(done, n), st, ws, out, chunk_mode);
            done += n;
        }
    }

    // LN(x; ln_out) at every position ([T, C] row-major) instead of logits: the features that
    // embedding models pool. Works without a head. Allocates nothing.
    void forward_features(std::span<const std::int32_t> tokens, state_type& st, Workspace& ws,
                          std::span<float> features) const {
        check_forward_args(tokens, st, ws, {}, logits_mode::none, cfg_.n_vocab, *layout_, "forward_features");
        const std::size_t C = cfg_.n_embd;
        if (features.size() < tokens.size() * C)
            throw invalid_argument("forward_features: output holds " + std::to_string(features.size()) +
                                   " floats, needs " + std::to_string(tokens.size() * C));
        for (std::size_t done = 0; done < tokens.size();) {
            const std::size_t n = std::min(ws.capacity, tokens.size() - done);
            run_chunk(to_space(tokens.subspan(done, n), ws), st, ws, true);
            const auto out = output_rows(features.subspan(done * C, n * C), n, C, ws);
            ops::layer_norm(backend_, ws.x.rows_slice(0, n), io_.ln_out_weight, io_.ln_out_bias, out);
            to_host(out, features.subspan(done * C, n * C));
            done += n;
        }
    }

    // ---- many agents, one model --------------------------------------------------------------
    // Steps B agents in one call: agent g (state *states[g], each at its own position) consumes
    // tokens[g]. Every projection runs once on the [B, C] rows, so the weights stream once per
    // step for all agents; token shift and WKV run per agent on its own state. logits_mode::last
    // (or ::all: the same here) writes agent g's logits to row g of [B, V]. An agent's logits and
    // state are bitwise those of forward() on it alone. B ≤ ws.capacity; states must be distinct.
    // Allocates nothing.
    void forward_batch(std::span<const std::int32_t> tokens, std::span<state_type* const> states, Workspace& ws,
                       std::span<float> logits, logits_mode mode = logits_mode::last) const {
        forward_batch(tokens, {}, states, ws, logits, mode);
    }

    // Variable-length prompts in one batched prefill: agent g consumes the next lengths[g] tokens of
    // `tokens` (lengths empty: one token each). logits_mode::last writes each agent's last-token
    // logits as row g of [B, V]; ::all writes every row's logits, [Σ lengths, V] in token order.
    // Σ lengths ≤ ws.capacity. Bitwise equal to forward() on each agent alone with those tokens in
    // one call.
    void forward_batch(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                       std::span<state_type* const> states, Workspace& ws, std::span<float> logits,
                       logits_mode mode = logits_mode::last) const {
        const std::size_t B = states.size(), V = cfg_.n_vocab;
        check_batch_args(tokens, lengths, states, ws, logits, mode);
        auto length = [lengths](std::size_t g) { return agent_length(lengths, g); };

        if constexpr (!batches_agents()) {
            for (std::size_t g = 0, row = 0; g < B; row += length(g), ++g) {
                const auto out = mode == logits_mode::all    ? logits.subspan(row * V, length(g) * V)
                                 : mode == logits_mode::last ? logits.subspan(g * V, V)
                                                             : std::span<float>();
                forward(tokens.subspan(row, length(g)), *states[g], ws, out, mode);
            }
        } else {
            auto& s = ws.agents;
            s.row_begin[0] = 0;
            for (std::size_t g = 0; g < B; ++g) {
                s.states[g] = states[g];
                s.base[g] = states[g]->data_handle();
                s.row_begin[g + 1] = s.row_begin[g] + length(g);
            }
            const std::size_t rows = s.row_begin[B];
            run_rows(to_space(tokens, ws), agent_batch<space>(s.states.data(), s.base.data(), s.row_begin.data(), B),
                     ws, mode == logits_mode::all);
            if (mode == logits_mode::none) return;

            // logits = head · LN(x; ln_out) for every row, or for each agent's last row.
            const Backend& be = backend_;
            const matrix_view<float, space> x = ws.x.rows_slice(0, rows);
            std::size_t count = rows;
            if (mode == logits_mode::all || rows == B) {
                ops::layer_norm(be, x, io_.ln_out_weight, io_.ln_out_bias, ws.a.rows_slice(0, rows));
            } else {
                count = B;
                for (std::size_t g = 0; g < B; ++g)
                    ops::layer_norm(be, x.rows_slice(s.row_begin[g + 1] - 1, 1), io_.ln_out_weight, io_.ln_out_bias,
                                    ws.a.rows_slice(g, 1));
            }
            const auto out = output_rows(logits.first(count * V), count, V, ws);
            ops::linear(be, io_.head, const_matrix_view<float, space>(ws.a.rows_slice(0, count)), out);
            to_host(out, logits.first(count * V));
        }
    }

    bool has_head() const noexcept { return !io_.head.empty(); }

    // The source file and every matrix as the model keeps it (tooling/convert.hpp).
    const weight_storage<weight_type, space>& weights() const noexcept { return store_; }

    // Bytes of weights read per decoded token with logits: every tensor but the embedding table
    // (one row of it is read). The roofline of decode is memory bandwidth ÷ this.
    std::size_t weight_bytes_per_token() const noexcept { return store_.weight_bytes; }
    // Elements of every weight matrix, the head included (2× this is the flops of one token).
    std::size_t matrix_elements() const noexcept { return store_.matrix_elements; }

    // Convenience: allocates its own workspace and logits.
    std::vector<float> forward(std::span<const std::int32_t> tokens, state_type& st,
                               logits_mode mode = logits_mode::last) const {
        Workspace ws = make_workspace(std::max<std::size_t>(1, std::min<std::size_t>(tokens.size(), 256)));
        std::vector<float> logits(mode == logits_mode::all ? tokens.size() * cfg_.n_vocab
                                  : mode == logits_mode::last ? cfg_.n_vocab
                                                              : 0);
        forward(tokens, st, ws, logits, mode);
        return logits;
    }

protected:
    Backend backend_;
    weight_storage<weight_type, space> store_;
    Config cfg_{};
    io_weights<weight_type, embedding_type, space> io_;
    std::shared_ptr<const state_layout> layout_;

    recurrent_model(io::tensor_file file, Backend be, architecture expected)
        : backend_(std::move(be)), store_(std::move(file)) {
        const architecture found = detect_architecture(store_.file);
        if (found != expected)
            throw model_error(store_.file.display_name() + ": checkpoint is " + std::string(architecture_name(found)) +
                              ", not " + std::string(architecture_name(expected)));
    }

    // V, C and L from the shapes (§1.1); the embedding upcast (and rounded as the policy stores
    // weights) BEFORE LN(·; ln0) is folded in, in f32 (§6 item 15); ln_out and head.
    void load_io(weight_loader<Precision, space>& ld) {
        const auto& file = store_.file;
        const auto emb_shape = ld.shape("emb.weight");
        if (emb_shape.size() != 2 || emb_shape[0] <= 0 || emb_shape[1] <= 0)
            throw model_error(file.display_name() + ": tensor 'emb.weight' has shape " + shape_string(emb_shape) +
                              ", expected [V, C]");
        cfg_.n_vocab = static_cast<std::size_t>(emb_shape[0]);
        cfg_.n_embd = static_cast<std::size_t>(emb_shape[1]);
        cfg_.n_layer = count_layers(file);
        const std::size_t C = cfg_.n_embd;

        const auto& emb_entry = ld.entry("emb.weight");
        const auto folded = file.metadata().find(ln0_folded_metadata_key);
        if (folded != file.metadata().end() && folded->second == "true") {
            // rwkv-cli convert stored the table with ln0 already folded in.
            io_.embedding = ld.template embedding_table<embedding_type>(emb_entry, cfg_.n_vocab, C);
        } else {
            aligned_buffer<float> emb = ld.to_f32_copy(emb_entry);
            ld.file().drop_pages(emb_entry);
            const matrix_view<float> e(emb.data(), cfg_.n_vocab, C);
            const auto ln0_weight = ld.host_vector("blocks.0.ln0.weight", C);
            const auto ln0_bias = ld.host_vector("blocks.0.ln0.bias", C);
            for (std::size_t v = 0; v < cfg_.n_vocab; ++v)
                ops::normalize_on_host(e.row(v), ln0_weight, ln0_bias, ops::layer_norm_eps, e.row(v));
            for (float value : emb.span())
                if (!std::isfinite(value))
                    throw model_error(file.display_name() + ": tensor 'emb.weight' contains NaN or Inf");
            io_.embedding = ld.template embedding_table<embedding_type>(std::move(emb), cfg_.n_vocab, C);
        }
        store_.weight_bytes = 0;  // ln0 is folded into the embedding: nothing read per token so far
        io_.ln_out_weight = ld.vector("ln_out.weight", C);
        io_.ln_out_bias = ld.vector("ln_out.bias", C);
        if (ld.has("head.weight")) io_.head = ld.matrix("head.weight", cfg_.n_vocab, C);
    }

    // forward_batch's argument checks; messages name the call and the agent.
    void check_batch_args(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                          std::span<state_type* const> states, const Workspace& ws, std::span<const float> logits,
                          logits_mode mode) const {
        const char* who = "forward_batch";
        const std::size_t B = states.size();
        if (B == 0) throw invalid_argument(std::string(who) + ": no agents");
        if (!lengths.empty() && lengths.size() != B)
            throw invalid_argument(std::string(who) + ": " + std::to_string(lengths.size()) + " lengths for " +
                                   std::to_string(B) + " agents");
        std::size_t rows = 0;
        for (std::size_t g = 0; g < B; ++g) {
            const std::size_t n = agent_length(lengths, g);
            if (n == 0) throw invalid_argument(std::string(who) + ": agent " + std::to_string(g) + " has no tokens");
            rows += n;
            if (!states[g]) throw invalid_argument(std::string(who) + ": agent " + std::to_string(g) + "'s state is null");
            for (std::size_t h = 0; h < g; ++h)
                if (states[h] == states[g])
                    throw invalid_argument(std::string(who) + ": agents " + std::to_string(h) + " and " +
                                           std::to_string(g) + " share one state");
        }
        if (tokens.size() != rows)
            throw invalid_argument(std::string(who) + ": " + std::to_string(tokens.size()) + " tokens, but the agents' " +
                                   "lengths add up to " + std::to_string(rows));
        if (batches_agents() && (rows > ws.capacity || B > ws.agents.capacity()))
            throw invalid_argument(std::string(who) + ": " + std::to_string(rows) + " tokens of " + std::to_string(B) +
                                   " agents do not fit the workspace (capacity " + std::to_string(ws.capacity) +
                                   " tokens): make_workspace(" + std::to_string(rows) + ")");
        const std::size_t need = mode == logits_mode::all ? rows * cfg_.n_vocab
                                 : mode == logits_mode::last ? B * cfg_.n_vocab
                                                             : 0;
        for (std::size_t g = 0, row = 0; g < B; row += agent_length(lengths, g), ++g)
            check_forward_args(tokens.subspan(row, agent_length(lengths, g)), *states[g], ws, {},
                               logits_mode::none, cfg_.n_vocab, *layout_, who);
        if (logits.size() < need)
            throw invalid_argument(std::string(who) + ": logits buffer holds " + std::to_string(logits.size()) +
                                   " floats, needs " + std::to_string(need));
        require_head(mode, "logits_mode::none");
    }

    // Logits need head.weight; `instead` names what a features-only backbone can call.
    void require_head(logits_mode mode, const char* instead) const {
        if (mode != logits_mode::none && io_.head.empty())
            throw invalid_argument(source() + ": this model has no head.weight (a features-only backbone): use " +
                                   instead);
    }

    // Tokens agent g consumes in a batched call (lengths empty: one each).
    static std::size_t agent_length(std::span<const std::size_t> lengths, std::size_t g) noexcept {
        return lengths.empty() ? 1 : lengths[g];
    }

    // The shape of a tensor whose rank and positivity are checked; dims read from it.
    static std::vector<std::int64_t> positive_shape(const weight_loader<Precision, space>& ld, const std::string& name,
                                                    std::size_t rank, const char* expected) {
        auto s = ld.shape(name);
        bool ok = s.size() == rank;
        for (auto d : s) ok = ok && d > 0;
        if (!ok)
            throw model_error(ld.file().display_name() + ": tensor '" + name + "' has shape " + shape_string(s) +
                              ", expected " + expected);
        return s;
    }

private:
    // Whether the architecture runs a batch of agents through its blocks together (GoldFinch says
    // no: forward_batch steps its agents one after another).
    static constexpr bool batches_agents() {
        if constexpr (requires { Derived::steps_agents_together; }) return Derived::steps_agents_together;
        else return true;
    }

    // x = E[tokens]; every block; the residual stream is left in ws.x. `agents` says whose state
    // each row advances.
    void run_rows(ops::token_ids<Backend> tokens, const agent_batch<space>& agents, Workspace& ws,
                  bool all_rows) const {
        const auto& self = static_cast<const Derived&>(*this);
        const std::size_t T = tokens.size();
        if constexpr (requires { self.begin_chunk(tokens, agents, ws, all_rows); })
            self.begin_chunk(tokens, agents, ws, all_rows);
        // x = E[token] for each token (LN(·; ln0) is folded into E at load, docs/spec/rwkv.md §1.3).
        ops::embedding(backend_, io_.embedding, tokens, ws.x.rows_slice(0, T));
        for (std::size_t i = 0; i < cfg_.n_layer; ++i) {
            self.time_mix(i, agents, ws, T);
            self.channel_mix(i, agents, ws, T);
        }
    }

    // One agent owning every row.
    void run_chunk(ops::token_ids<Backend> tokens, state_type& st, Workspace& ws, bool all_rows) const {
        state_type* states[1] = {&st};
        float* base[1] = {st.data_handle()};
        run_rows(tokens, agent_batch<space>(states, base, nullptr, 1), ws, all_rows);
    }

    void forward_chunk(std::span<const std::int32_t> tokens, state_type& st, Workspace& ws, std::span<float> logits,
                       logits_mode mode) const {
        const Backend& be = backend_;
        const std::size_t T = tokens.size();
        const matrix_view<float, space> x = ws.x.rows_slice(0, T);
        run_chunk(to_space(tokens, ws), st, ws, mode == logits_mode::all);
        if (mode == logits_mode::none) return;

        // logits = head · LN(x; ln_out), for every row or only the last.
        const std::size_t first = mode == logits_mode::all ? 0 : T - 1;
        const std::size_t count = T - first;
        const auto normed = ws.a.rows_slice(0, count);
        ops::layer_norm(be, x.rows_slice(first, count), io_.ln_out_weight, io_.ln_out_bias, normed);
        const auto out = output_rows(logits.first(count * cfg_.n_vocab), count, cfg_.n_vocab, ws);
        ops::linear(be, io_.head, const_matrix_view<float, space>(normed), out);
        to_host(out, logits.first(count * cfg_.n_vocab));
    }

    // ---- the host boundary (nothing is copied in the host space) ----
    // The call's token ids as the space sees them: the caller's in the host space, else a copy in
    // the workspace's boundary buffer (tokens.size() ≤ ws.capacity).
    static ops::token_ids<Backend> to_space(std::span<const std::int32_t> tokens, Workspace& ws) {
        if constexpr (std::is_same_v<space, host_space>) {
            return tokens;
        } else {
            space::copy_from_host(ws.boundary.tokens.data_handle(), tokens.data(), tokens.size_bytes());
            return {ws.boundary.tokens.data_handle(), tokens.size()};
        }
    }
    // Where [rows, cols] outputs bound for `host` are written: `host` itself in the host space,
    // else the workspace's boundary buffer (copied over by to_host).
    static matrix_view<float, space> output_rows(std::span<float> host, std::size_t rows, std::size_t cols,
                                                 Workspace& ws) {
        if constexpr (std::is_same_v<space, host_space>)
            return {host.data(), rows, cols};
        else
            return {ws.boundary.outputs.data_handle(), rows, cols};
    }
    static void to_host(matrix_view<float, space> out, std::span<float> host) {
        if constexpr (!std::is_same_v<space, host_space>) {
            space::synchronize();
            space::copy_to_host(host.data(), out.data_handle(), out.size() * sizeof(float));
        }
    }
};

}  // namespace rwkv
