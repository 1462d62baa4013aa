// rwkv/models/embedding.hpp — EmbeddingRWKV (text embeddings) and its state-based RWKV-Reranker.
//
// Spec: docs/spec/embedding.md; reference: the `rwkv_emb` package (howard-hou/EmbeddingRWKV,
// package/src/rwkv_emb/model.py). docs/architectures/embedding.md explains the model and its quirks.
//
//   embedding model  = RWKV-7 backbone ("rwkv.*", run by rwkv7::model itself, no LM head)
//                    → h_t = LN(x_t; ln_out) at every position
//                    → p = mean of h_t over the positions whose token is EOS (65535) in this call
//                    → e = LN(p + fc2 relu(fc1 p); norm)       one of three task heads ("head.*")
//   reranker         = an RWKV-7 stack ("reranker.*", again rwkv7::model) run on ONE learned token
//                      (emb.weight is [1, C]) from a state whose WKV matrices are copies of the
//                      embedding model's (optionally a chosen subset of layers) and whose token-shift
//                      vectors are zero (= the training code's zero-padded shift for one token);
//                      logit = w2 · tanh(W0 LN(x; ln_out) + b0).
//
// Nothing here re-implements block math: both stacks are rwkv7::model<Backend, Precision>, and the
// heads are ops::linear / ops::map / ops::layer_norm.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/buffer.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/loader.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "rwkv/models/workspace.hpp"
#include "rwkv/ops/functors.hpp"
#include "rwkv/ops/linear.hpp"
#include "rwkv/ops/map.hpp"
#include "rwkv/ops/norm.hpp"

namespace rwkv::embedding_rwkv {

// The "summarise here" token the package appends (`add_eos=True`) and pools (model.py: eos_token_id).
inline constexpr std::int32_t eos_token = 65535;
// The token the package's README left-pads batches with.
inline constexpr std::int32_t pad_token = 0;

// The three task heads (model.py MultiTaskHead). The package's default (task_type=None) is [RETR].
enum class task { retrieval, classification, similarity };

inline constexpr std::string_view task_name(task t) noexcept {
    switch (t) {
        case task::classification:
            return "cls";
        case task::similarity:
            return "sts";
        case task::retrieval:
            break;
    }
    return "retr";
}

// "retr" | "cls" | "sts", or the package's "[RETR]" | "[CLS]" | "[STS]" (case-insensitive);
// anything else is an invalid_argument naming the value (the package raises ValueError).
inline task parse_task(std::string_view name) {
    std::string s;
    for (char c : name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    if (s == "retr") return task::retrieval;
    if (s == "cls") return task::classification;
    if (s == "sts") return task::similarity;
    throw invalid_argument("unknown embedding head '" + std::string(name) +
                           "': expected retr, cls or sts (the package's [RETR], [CLS], [STS])");
}

// What is pooled: the package's default (full_output=True) is the mean over this call's EOS
// positions; full_output=False takes the last position's feature without looking at EOS.
enum class pooling { eos_mean, last_token };

// How embed_batch treats sequences of different lengths.
enum class batch_padding {
    none,  // each sequence as it is (= the package's single-sequence calls)
    left,  // left-padded with token 0 to the longest, unmasked (= the package's batch of the README)
};

// Cosine similarity, the package's comparison of embeddings (they are not normalised). 0 when a
// vector is all zeros.
inline float cosine_similarity(std::span<const float> a, std::span<const float> b) {
    if (a.size() != b.size())
        throw invalid_argument("cosine_similarity: vectors of " + std::to_string(a.size()) + " and " +
                               std::to_string(b.size()) + " floats");
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
    }
    // torch's F.cosine_similarity clamps each norm at 1e-8.
    const double na = std::max(std::sqrt(aa), 1e-8), nb = std::max(std::sqrt(bb), 1e-8);
    return static_cast<float>(ab / (na * nb));
}

// The state in the package's two-tensor layout (docs/spec/embedding.md §5, batch of one squeezed): state[0]
// [L, 2, C] (index 0 = att.x_prev, 1 = ffn.x_prev) followed by state[1] [L, H, N, N]. Our state is
// the official per-layer list [att.x_prev, att.kv, ffn.x_prev]; these convert between the two.
inline std::vector<float> to_package_layout(const state& st) {
    const auto& l = st.layout();
    if (l.arch != architecture::rwkv7 || l.entries.size() != 3 * l.n_layer)
        throw state_error("to_package_layout: state is for " + l.describe() + ", not an RWKV-7 backbone");
    const std::size_t C = l.n_embd, L = l.n_layer, S = l.n_head * l.head_size * l.head_size;
    std::vector<float> out(L * (2 * C + S));
    for (std::size_t i = 0; i < L; ++i) {
        std::ranges::copy(st.entry(3 * i + 0), out.begin() + static_cast<std::ptrdiff_t>((2 * i) * C));
        std::ranges::copy(st.entry(3 * i + 2), out.begin() + static_cast<std::ptrdiff_t>((2 * i + 1) * C));
        std::ranges::copy(st.entry(3 * i + 1), out.begin() + static_cast<std::ptrdiff_t>(2 * L * C + i * S));
    }
    return out;
}

inline void from_package_layout(std::span<const float> values, state& st) {
    const auto& l = st.layout();
    if (l.arch != architecture::rwkv7 || l.entries.size() != 3 * l.n_layer)
        throw state_error("from_package_layout: state is for " + l.describe() + ", not an RWKV-7 backbone");
    const std::size_t C = l.n_embd, L = l.n_layer, S = l.n_head * l.head_size * l.head_size;
    if (values.size() != L * (2 * C + S))
        throw state_error("from_package_layout: " + std::to_string(values.size()) +
                          " floats given, the layout [L, 2, C] + [L, H, N, N] of " + l.describe() + " needs " +
                          std::to_string(L * (2 * C + S)));
    for (std::size_t i = 0; i < L; ++i) {
        std::ranges::copy(values.subspan(2 * i * C, C), st.entry(3 * i + 0).begin());
        std::ranges::copy(values.subspan((2 * i + 1) * C, C), st.entry(3 * i + 2).begin());
        std::ranges::copy(values.subspan(2 * L * C + i * S, S), st.entry(3 * i + 1).begin());
    }
}

namespace detail {

// The tensors of `file` under `prefix` (stripped); model_error when there are none.
inline io::tensor_file part(const io::tensor_file& file, std::string_view prefix, std::string_view what,
                            std::initializer_list<std::pair<std::string_view, std::string_view>> renames = {}) {
    io::tensor_file sub = file.select_prefix(prefix, renames);
    if (sub.tensors().empty())
        throw model_error(file.display_name() + ": no '" + std::string(prefix) + "*' tensors: not " +
                          std::string(what));
    return sub;
}

}  // namespace detail

// One residual MLP head (model.py NonlinearHead): e = LN(p + fc2 relu(fc1 p); norm), no biases.
template <class W, memory_space Space = host_space>
struct head_weights {
    const_matrix_view<W, Space> fc1, fc2;                  // [C, C] nn.Linear [out, in]
    vector_view<const float, Space> norm_weight, norm_bias;  // [C]
};

// =====================================================================================================
// The embedding model.
// =====================================================================================================
template <backend Backend = backends::reference, precision::policy Precision = precision::f32>
class model {
public:
    using backbone_type = rwkv7::model<Backend, Precision>;
    using weight_type = typename Precision::weight_type;
    using space = space_of<Backend>;  // the backbone, the heads and the state live there
    using state_type = basic_state<space>;

    // Scratch for every call, sized once: the backbone's workspace (chunks of up to `capacity`
    // tokens), the features of one chunk (host: pooling reads them there, as the backbone hands
    // features to the host), and the head's rows (in the backend's space).
    struct workspace {
        typename backbone_type::workspace_type backbone;
        aligned_buffer<float> feature_rows;            // [capacity, C], host
        matrix_view<float> features;                   // a view of feature_rows
        scratch_arena<space> arena;
        matrix_view<float, space> pooled, hidden, sum;  // [1, C]
        aligned_buffer<double> accumulator;             // [C]

        workspace() = default;
        workspace(const backbone_type& m, std::size_t capacity)
            : backbone(m.make_workspace(capacity)), feature_rows(capacity * m.cfg().n_embd) {
            const std::size_t C = m.cfg().n_embd;
            features = matrix_view<float>(feature_rows.data(), capacity, C);
            arena = scratch_arena<space>(3 * C, 3);
            pooled = arena.take(1, C);
            hidden = arena.take(1, C);
            sum = arena.take(1, C);
            accumulator = aligned_buffer<double>(C);
        }
        std::size_t capacity() const noexcept { return backbone.capacity; }
    };

    // Opens an EmbeddingRWKV checkpoint (.pth or .safetensors): "rwkv.*" backbone (layer 0 with or
    // without v0/v1/v2) and the 12 "head.*" tensors.
    static model load(const std::filesystem::path& path, Backend be = {}) {
        return model(io::tensor_file::open(path), std::move(be));
    }

    explicit model(const io::tensor_file& file, Backend be = {})
        : backbone_(detail::part(file, "rwkv.", "an EmbeddingRWKV checkpoint (expected 'rwkv.*' and 'head.*')"),
                    std::move(be)),
          heads_store_(detail::part(file, "head.", "an EmbeddingRWKV checkpoint (no task heads 'head.*')")) {
        const auto& c = backbone_.cfg();
        if (c.n_vocab <= static_cast<std::size_t>(eos_token))
            throw model_error(file.display_name() + ": tensor 'rwkv.emb.weight' has " + std::to_string(c.n_vocab) +
                              " rows; EmbeddingRWKV pools token " + std::to_string(eos_token) +
                              ", so it needs at least " + std::to_string(eos_token + 1));
        weight_loader<Precision, space> ld(heads_store_);
        const std::size_t C = c.n_embd;
        for (task t : {task::retrieval, task::classification, task::similarity}) {
            const std::string p = std::string(task_name(t)) + "_head.";
            auto& h = heads_[static_cast<std::size_t>(t)];
            h.fc1 = ld.matrix(p + "fc1.weight", C, C);
            h.fc2 = ld.matrix(p + "fc2.weight", C, C);
            h.norm_weight = ld.vector(p + "norm.weight", C);
            h.norm_bias = ld.vector(p + "norm.bias", C);
        }
    }

    model(model&&) noexcept = default;
    model& operator=(model&&) noexcept = default;

    const backbone_type& backbone() const noexcept { return backbone_; }
    const rwkv7::config& cfg() const noexcept { return backbone_.cfg(); }
    std::size_t dim() const noexcept { return backbone_.cfg().n_embd; }  // embedding size = C
    const head_weights<weight_type, space>& head(task t) const noexcept { return heads_[static_cast<std::size_t>(t)]; }
    const std::string& source() const noexcept { return backbone_.source(); }

    state_type make_state() const { return backbone_.make_state(); }
    workspace make_workspace(std::size_t max_tokens = 64) const {
        if (max_tokens == 0) throw invalid_argument("embedding_rwkv::model::make_workspace: capacity must be ≥ 1");
        return workspace(backbone_, max_tokens);
    }

    // Only advances the state (e.g. a document whose state is cached for offline reranking).
    void advance(std::span<const std::int32_t> tokens, state_type& st, workspace& ws) const {
        backbone_.forward(tokens, st, ws.backbone, {}, logits_mode::none);
    }

    // h_t = LN(x_t; ln_out) at every position: [T, C] row-major.
    void features(std::span<const std::int32_t> tokens, state_type& st, workspace& ws, std::span<float> out) const {
        backbone_.forward_features(tokens, st, ws.backbone, out);
    }

    // Runs `tokens` from `st` (updated) and writes the pooled feature [C]: the mean of h_t over this
    // call's EOS positions (eos_mean), or h of the last token (last_token). With eos_mean a call
    // without EOS is an invalid_argument (the package would return 0/0 = NaN), thrown before `st`
    // changes.
    void pool(std::span<const std::int32_t> tokens, state_type& st, workspace& ws, std::span<float> pooled,
              pooling how = pooling::eos_mean) const {
        const std::size_t C = dim();
        if (pooled.size() != C)
            throw invalid_argument("embedding_rwkv: pooled output holds " + std::to_string(pooled.size()) +
                                   " floats, needs " + std::to_string(C));
        if (tokens.empty()) throw invalid_argument("embedding_rwkv: no tokens");
        std::size_t eos_count = 0;
        for (auto t : tokens) eos_count += t == eos_token;
        if (how == pooling::eos_mean && eos_count == 0)
            throw invalid_argument("embedding_rwkv: the " + std::to_string(tokens.size()) +
                                   " tokens of this call hold no EOS token " + std::to_string(eos_token) +
                                   ": append it (the package's add_eos=True) — its mean pooling would be NaN");
        st.require_layout(backbone_.layout(), "embedding_rwkv::model");
        if (ws.capacity() == 0 || ws.features.cols != C)
            throw invalid_argument("embedding_rwkv: workspace was not made by this model");

        std::fill(ws.accumulator.span().begin(), ws.accumulator.span().end(), 0.0);
        for (std::size_t done = 0; done < tokens.size();) {
            const std::size_t n = std::min(ws.capacity(), tokens.size() - done);
            const auto chunk = tokens.subspan(done, n);
            backbone_.forward_features(chunk, st, ws.backbone, ws.features.rows_slice(0, n).flat());
            if (how == pooling::eos_mean) {
                for (std::size_t t = 0; t < n; ++t) {
                    if (chunk[t] != eos_token) continue;
                    const auto row = ws.features.row(t);
                    for (std::size_t c = 0; c < C; ++c) ws.accumulator[c] += row[c];
                }
            } else if (done + n == tokens.size()) {
                std::ranges::copy(ws.features.row(n - 1), pooled.begin());
            }
            done += n;
        }
        if (how == pooling::eos_mean)
            for (std::size_t c = 0; c < C; ++c)
                pooled[c] = static_cast<float>(ws.accumulator[c] / static_cast<double>(eos_count));
    }

    // e = LN(p + fc2 relu(fc1 p); norm) with the chosen task head. `out` may alias `pooled`.
    void apply_head(task t, std::span<const float> pooled, std::span<float> out, workspace& ws) const {
        const std::size_t C = dim();
        if (pooled.size() != C || out.size() != C)
            throw invalid_argument("embedding_rwkv::apply_head: vectors of " + std::to_string(pooled.size()) + " and " +
                                   std::to_string(out.size()) + " floats, needs " + std::to_string(C));
        const Backend& be = backbone_.backend();
        const auto& h = head(t);
        using cm = const_matrix_view<float, space>;
        space::copy_from_host(ws.pooled.data_handle(), pooled.data(), C * sizeof(float));
        ops::linear(be, h.fc1, cm(ws.pooled), ws.hidden);
        ops::map(be, ws.hidden, ops::fn::relu{}, cm(ws.hidden));
        ops::linear(be, h.fc2, cm(ws.hidden), ws.sum);
        ops::map(be, ws.sum, ops::fn::add{}, cm(ws.pooled), cm(ws.sum));
        ops::layer_norm(be, cm(ws.sum), h.norm_weight, h.norm_bias, ws.hidden);
        space::synchronize();
        space::copy_to_host(out.data(), ws.hidden.data_handle(), C * sizeof(float));
    }

    // The embedding [C] of `tokens` run from `st` (updated): pool, then the task head. Streaming:
    // only this call's EOS positions are pooled, so feeding a text in chunks gives the one-shot
    // embedding when all its EOS tokens are in the last chunk (docs/spec/embedding.md §4).
    void embed(std::span<const std::int32_t> tokens, state_type& st, workspace& ws, std::span<float> out,
               task t = task::retrieval, pooling how = pooling::eos_mean) const {
        pool(tokens, st, ws, out, how);
        apply_head(t, out, out, ws);
    }

    // Convenience: from the zero state, with its own workspace.
    std::vector<float> embed(std::span<const std::int32_t> tokens, task t = task::retrieval) const {
        auto st = make_state();
        auto ws = make_workspace(std::clamp<std::size_t>(tokens.size(), 1, 256));
        std::vector<float> out(dim());
        embed(tokens, st, ws, out, t);
        return out;
    }

    // Embeddings of several sequences, each from the zero state: [n, C] row-major. With
    // batch_padding::left the shorter ones are first left-padded with token 0 to the longest
    // (unmasked, as the package's batch path: the padding changes the state and the embedding).
    // Every sequence must hold an EOS (checked for all before any runs). One workspace and one
    // state serve the whole batch. `final_states`, when given, receives each final state.
    std::vector<float> embed_batch(std::span<const std::vector<std::int32_t>> seqs, task t = task::retrieval,
                                   batch_padding pad = batch_padding::none,
                                   std::vector<state_type>* final_states = nullptr) const {
        const std::size_t C = dim();
        std::size_t longest = 0;
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            if (seqs[i].empty()) throw invalid_argument("embedding_rwkv: sequence " + std::to_string(i) + " is empty");
            if (std::ranges::find(seqs[i], eos_token) == seqs[i].end())
                throw invalid_argument("embedding_rwkv: sequence " + std::to_string(i) + " (" +
                                       std::to_string(seqs[i].size()) + " tokens) holds no EOS token " +
                                       std::to_string(eos_token) + ": append it (the package's add_eos=True)");
            longest = std::max(longest, seqs[i].size());
        }
        std::vector<float> out(seqs.size() * C);
        if (seqs.empty()) return out;
        auto ws = make_workspace(std::min<std::size_t>(longest, 256));
        auto st = make_state();
        std::vector<std::int32_t> padded;
        padded.reserve(longest);
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            st.zero_values();
            std::span<const std::int32_t> tokens = seqs[i];
            if (pad == batch_padding::left && tokens.size() < longest) {
                padded.assign(longest - tokens.size(), pad_token);
                padded.insert(padded.end(), tokens.begin(), tokens.end());
                tokens = padded;
            }
            embed(tokens, st, ws, std::span(out).subspan(i * C, C), t);
            if (final_states) final_states->push_back(st.fork());
        }
        return out;
    }

private:
    backbone_type backbone_;
    weight_storage<weight_type, space> heads_store_;
    head_weights<weight_type, space> heads_[3];
};

// =====================================================================================================
// The state-based reranker.
// =====================================================================================================

// "[0, 6, 11]", "0,6,11" or "0 6 11" → {0, 6, 11}; format_error naming `where` otherwise.
inline std::vector<std::int64_t> parse_layer_index(std::string_view text, const std::string& where) {
    std::vector<std::int64_t> out;
    std::size_t i = 0;
    auto skip = [&] {
        while (i < text.size() && (text[i] == ' ' || text[i] == ',' || text[i] == '[' || text[i] == ']' ||
                                   text[i] == '(' || text[i] == ')' || text[i] == '\t' || text[i] == '\n'))
            ++i;
    };
    for (skip(); i < text.size(); skip()) {
        bool negative = false;
        if (text[i] == '-') {
            negative = true;
            ++i;
        }
        std::int64_t v = 0;
        bool digits = false;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9' && v < 1'000'000) {
            v = v * 10 + (text[i] - '0');
            ++i;
            digits = true;
        }
        if (!digits)
            throw format_error(where + ": reranker layer index '" + std::string(text) +
                               "' is not a list of integers such as [0, 6, 11]");
        out.push_back(negative ? -v : v);
    }
    if (out.empty()) throw format_error(where + ": reranker layer index '" + std::string(text) + "' is empty");
    return out;
}

template <backend Backend = backends::reference, precision::policy Precision = precision::f32>
class reranker {
public:
    using backbone_type = rwkv7::model<Backend, Precision>;
    using weight_type = typename Precision::weight_type;
    using space = space_of<Backend>;
    using state_type = basic_state<space>;

    // Scratch for one logit, sized once: the reranker's own state (WKV matrices injected, token
    // shift zero), the backbone workspace for one token, and the head's rows.
    struct workspace {
        state_type st;
        typename backbone_type::workspace_type backbone;
        aligned_buffer<float> feature_row;                 // [C], host: what the backbone hands back
        scratch_arena<space> arena;
        matrix_view<float, space> feature, hidden, logit;  // [1, C], [1, C], [1, 1]
    };

    // Opens a reranker checkpoint: "reranker.*" (legacy "reranker.token.weight" = "emb.weight"),
    // with the layer selection from the file's metadata entry "reranker_layer_idx" when present.
    static reranker load(const std::filesystem::path& path, Backend be = {}) {
        return reranker(io::tensor_file::open(path), std::nullopt, std::move(be));
    }

    // `layer_index` (embedding-model layer feeding each reranker block, Python-style negative
    // indices allowed) overrides the file's; std::nullopt keeps it (absent: block j reads layer j).
    explicit reranker(const io::tensor_file& file, std::optional<std::vector<std::int64_t>> layer_index = std::nullopt,
                      Backend be = {})
        : backbone_(detail::part(file, "reranker.", "an RWKV-Reranker checkpoint (expected 'reranker.*' tensors)",
                                 {{"token.weight", "emb.weight"}}),
                    std::move(be)),
          head_store_(
              detail::part(file, "reranker.head.", "an RWKV-Reranker checkpoint (no 'reranker.head.*')")) {
        const auto& c = backbone_.cfg();
        if (c.n_vocab != 1)
            throw model_error(file.display_name() + ": tensor 'reranker.emb.weight' has " + std::to_string(c.n_vocab) +
                              " rows, expected [1, C] (the reranker's one learned token)");
        const std::size_t C = c.n_embd;
        weight_loader<Precision, space> ld(head_store_);
        w0_ = ld.matrix("0.weight", C, C);
        b0_ = ld.vector("0.bias", C);
        w2_ = ld.matrix("2.weight", 1, C);
        if (layer_index) {
            layer_index_ = std::move(*layer_index);
            if (layer_index_.size() != c.n_layer)
                throw invalid_argument(file.display_name() + ": the reranker layer index lists " +
                                       std::to_string(layer_index_.size()) + " layers but the reranker has " +
                                       std::to_string(c.n_layer) + " blocks");
        } else if (auto it = file.metadata().find("reranker_layer_idx"); it != file.metadata().end()) {
            layer_index_ = parse_layer_index(it->second, file.display_name() + ": metadata 'reranker_layer_idx'");
            if (layer_index_.size() != c.n_layer)
                throw model_error(file.display_name() + ": metadata 'reranker_layer_idx' lists " +
                                  std::to_string(layer_index_.size()) + " layers but the reranker has " +
                                  std::to_string(c.n_layer) + " blocks");
        }
    }

    reranker(reranker&&) noexcept = default;
    reranker& operator=(reranker&&) noexcept = default;

    const backbone_type& backbone() const noexcept { return backbone_; }
    const rwkv7::config& cfg() const noexcept { return backbone_.cfg(); }
    // The embedding-model layer feeding each block; empty = block j reads layer j.
    std::span<const std::int64_t> layer_index() const noexcept { return layer_index_; }

    workspace make_workspace() const {
        workspace ws;
        ws.st = backbone_.make_state();
        ws.backbone = backbone_.make_workspace(1);
        const std::size_t C = cfg().n_embd;
        ws.feature_row = aligned_buffer<float>(C);
        ws.arena = scratch_arena<space>(2 * C + 1, 3);
        ws.feature = ws.arena.take(1, C);
        ws.hidden = ws.arena.take(1, C);
        ws.logit = ws.arena.take(1, 1);
        return ws;
    }

    // The embedding layer that block j reads, for an embedding state of `n_layer` layers;
    // state_error when it does not exist.
    std::size_t source_layer(std::size_t j, std::size_t n_layer) const {
        std::int64_t idx = layer_index_.empty() ? static_cast<std::int64_t>(j) : layer_index_[j];
        const std::int64_t given = idx;
        if (idx < 0) idx += static_cast<std::int64_t>(n_layer);
        if (idx < 0 || idx >= static_cast<std::int64_t>(n_layer))
            throw state_error("reranker (" + backbone_.source() + "): block " + std::to_string(j) +
                              " reads embedding layer " + std::to_string(given) + ", but the state has " +
                              std::to_string(n_layer) + " layers");
        return static_cast<std::size_t>(idx);
    }

    // Throws state_error unless `emb_layout` is an RWKV-7 state whose WKV matrices fit this reranker.
    void check_state(const state_layout& emb_layout) const {
        const auto& c = cfg();
        if (emb_layout.arch != architecture::rwkv7 || emb_layout.entries.size() != 3 * emb_layout.n_layer ||
            emb_layout.n_head != c.n_head || emb_layout.head_size != c.head_size)
            throw state_error("reranker (" + backbone_.source() +
                              "): needs the state of an RWKV-7 embedding model with " + std::to_string(c.n_head) +
                              " heads of size " + std::to_string(c.head_size) + ", got a state for " +
                              emb_layout.describe());
        for (std::size_t j = 0; j < c.n_layer; ++j) source_layer(j, emb_layout.n_layer);
    }

    // The relevance logit (before sigmoid) of the pair whose text produced `emb_state` (the final
    // state of the embedding model). Allocates nothing.
    float logit(const state_type& emb_state, workspace& ws) const {
        const auto& el = emb_state.layout();
        check_state(el);
        if (ws.feature.cols != cfg().n_embd)
            throw invalid_argument("reranker: workspace was not made by this reranker");
        ws.st.require_layout(backbone_.layout(), "reranker");
        ws.st.zero_values();  // token shift zero (the training code's padded shift)
        for (std::size_t j = 0; j < cfg().n_layer; ++j) {  // each block's WKV matrices, within the space
            const std::size_t src = 3 * source_layer(j, el.n_layer) + 1;
            space::copy(ws.st.entry_handle(3 * j + 1), emb_state.entry_handle(src),
                        el.entries[src].count * sizeof(float));
        }
        static constexpr std::int32_t token[1] = {0};
        const std::size_t C = cfg().n_embd;
        backbone_.forward_features(token, ws.st, ws.backbone, ws.feature_row.span());
        space::copy_from_host(ws.feature.data_handle(), ws.feature_row.data(), C * sizeof(float));
        const Backend& be = backbone_.backend();
        using cm = const_matrix_view<float, space>;
        ops::linear(be, w0_, cm(ws.feature), ws.hidden);
        ops::map(be, ws.hidden, ops::fn::tanh_of_sum{}, cm(ws.hidden), b0_);
        ops::linear(be, w2_, cm(ws.hidden), ws.logit);
        float logit = 0.0f;
        space::synchronize();
        space::copy_to_host(&logit, ws.logit.data_handle(), sizeof(float));
        return logit;
    }

    float logit(const state_type& emb_state) const {
        auto ws = make_workspace();
        return logit(emb_state, ws);
    }

    // The package's score: sigmoid(logit).
    static float score(float logit) noexcept { return ops::sigmoid(logit); }

private:
    backbone_type backbone_;
    weight_storage<weight_type, space> head_store_;
    const_matrix_view<weight_type, space> w0_, w2_;  // head.0.weight [C, C], head.2.weight [1, C]
    vector_view<const float, space> b0_;             // head.0.bias [C]
    std::vector<std::int64_t> layer_index_;
};

}  // namespace rwkv::embedding_rwkv
