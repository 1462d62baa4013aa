// tools/server/engine.cpp — the one translation unit that sees the models (see engine.hpp).
#include "engine.hpp"

#include <algorithm>
#include <fstream>
#include <string_view>
#include <optional>
#include <utility>

#include "rwkv/any_model.hpp"
#include "rwkv/backends/cpu.hpp"
#include "rwkv/embedding.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/state/state_file.hpp"
#include "rwkv/state/state_tuning.hpp"
#include "rwkv/text/gguf_vocabulary.hpp"

namespace rwkv_server {
namespace {

namespace er = rwkv::embedding_rwkv;

// The same choice as rwkv-cli generate: --vocab, else what the file's metadata says, else bytes for
// a 256-token model.
rwkv::text::any_tokenizer pick_tokenizer(const std::string& vocab, const rwkv::io::tensor_file& file,
                                         std::size_t n_vocab) {
    if (!vocab.empty()) return rwkv::text::open_tokenizer(vocab);
    const auto& md = file.metadata();
    if (auto it = md.find("tokenizer"); it != md.end() && it->second == "bytes") return rwkv::text::byte_tokenizer{};
    if (auto world = rwkv::text::world_tokenizer_from_gguf_metadata(md, file.display_name())) return std::move(*world);
    if (n_vocab == 256) return rwkv::text::byte_tokenizer{};
    throw rwkv::invalid_argument("this model needs a tokenizer: pass --vocab FILE (the World vocabulary "
                                 "rwkv_vocab_v20230424.txt)");
}

// The library's own state file starts with "RWKVSTAT" (state/state_file.hpp); anything else named by
// "state" is read as a state-tuning file.
bool is_state_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {};
    in.read(magic, sizeof magic);
    return in.gcount() == static_cast<std::streamsize>(sizeof magic) && std::string_view(magic, sizeof magic) == "RWKVSTAT";
}

bool is_embedding_checkpoint(const rwkv::io::tensor_file& file) {
    return std::ranges::any_of(file.tensors(), [](const auto& t) { return t.name.starts_with("head."); }) &&
           std::ranges::any_of(file.tensors(), [](const auto& t) { return t.name.starts_with("rwkv."); });
}

class language_engine final : public engine {
public:
    language_engine(rwkv::any_model model, rwkv::text::any_tokenizer tok, std::size_t max_step_tokens)
        : model_(std::move(model)), tok_(std::move(tok)), ws_(model_.make_workspace(max_step_tokens)) {
        const auto s = model_.summary();
        info_.architecture = std::string(rwkv::architecture_name(s.arch));
        info_.backend = s.backend;
        info_.precision = s.precision;
        info_.n_vocab = s.n_vocab;
        info_.n_embd = s.n_embd;
        info_.state_bytes = model_.make_state().values().size() * sizeof(float);
        if (static_cast<std::size_t>(tok_.vocab_size()) > info_.n_vocab)
            throw rwkv::invalid_argument("tokenizer '" + std::string(tok_.name()) + "' has " +
                                         std::to_string(tok_.vocab_size()) + " ids but the model only " +
                                         std::to_string(info_.n_vocab));
    }
    engine_info& mutable_info() { return info_; }
    const engine_info& info() const noexcept override { return info_; }
    const rwkv::text::any_tokenizer& tokenizer() const noexcept override { return tok_; }
    rwkv::state make_state() const override { return model_.make_state(); }
    rwkv::state load_state_file(const std::filesystem::path& path) const override {
        if (!is_state_file(path)) {  // a state-tuning file (blocks.N.att.time_state, .pth or safetensors)
            auto tuned = model_.make_state();
            rwkv::apply_state_tuning(tuned, path);
            return tuned;
        }
        auto st = rwkv::load_state(path);
        if (!(st.layout() == model_.make_state().layout()))
            throw rwkv::state_error(path.filename().string() + ": the state was made by a model of another shape");
        return st;
    }
    void step(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
              std::span<rwkv::state* const> states, std::span<float> logits) override {
        model_.forward_batch(tokens, lengths, states, *ws_, logits, rwkv::logits_mode::last);
    }
    std::vector<float> embed(std::span<const std::int32_t>) override {
        throw rwkv::unsupported_error("this model is not an EmbeddingRWKV model");
    }

private:
    rwkv::any_model model_;
    rwkv::text::any_tokenizer tok_;
    std::unique_ptr<rwkv::any_workspace> ws_;
    engine_info info_;
};

class embedding_engine final : public engine {
    using model_type = er::model<rwkv::backends::cpu, rwkv::precision::f32>;

public:
    embedding_engine(model_type model, rwkv::text::any_tokenizer tok)
        : model_(std::move(model)), tok_(std::move(tok)), ws_(model_.make_workspace(256)) {
        info_.architecture = "embedding";
        info_.backend = "cpu";
        info_.precision = "f32";
        info_.n_vocab = model_.cfg().n_vocab;
        info_.n_embd = model_.dim();
        info_.embedding = true;
    }
    engine_info& mutable_info() { return info_; }
    const engine_info& info() const noexcept override { return info_; }
    const rwkv::text::any_tokenizer& tokenizer() const noexcept override { return tok_; }
    rwkv::state make_state() const override { return model_.make_state(); }
    rwkv::state load_state_file(const std::filesystem::path&) const override {
        throw rwkv::unsupported_error("an embedding model takes no initial state");
    }
    void step(std::span<const std::int32_t>, std::span<const std::size_t>, std::span<rwkv::state* const>,
              std::span<float>) override {
        throw rwkv::unsupported_error("an EmbeddingRWKV model does not generate text");
    }
    std::vector<float> embed(std::span<const std::int32_t> tokens) override {
        std::vector<float> out(model_.dim());
        auto st = model_.make_state();
        model_.embed(tokens, st, ws_, out, er::task::retrieval);
        return out;
    }

private:
    model_type model_;
    rwkv::text::any_tokenizer tok_;
    model_type::workspace ws_;
    engine_info info_;
};

}  // namespace

std::unique_ptr<engine> open_engine(const engine_options& o) {
    const auto file = rwkv::io::tensor_file::open(o.model);
    const std::string id = o.model.filename().string();
    if (is_embedding_checkpoint(file)) {
        auto m = er::model<rwkv::backends::cpu, rwkv::precision::f32>(file, rwkv::backends::cpu(o.threads));
        auto tok = pick_tokenizer(o.vocab, file, m.cfg().n_vocab);
        auto e = std::make_unique<embedding_engine>(std::move(m), std::move(tok));
        e->mutable_info().id = id;
        return e;
    }
    rwkv::open_options opt;
    opt.precision = o.precision;
    opt.threads = o.threads;
    auto model = rwkv::any_model::open(o.model, opt);
    auto tok = pick_tokenizer(o.vocab, file, model.summary().n_vocab);
    auto e = std::make_unique<language_engine>(std::move(model), std::move(tok), o.max_step_tokens);
    e->mutable_info().id = id;
    return e;
}

}  // namespace rwkv_server
