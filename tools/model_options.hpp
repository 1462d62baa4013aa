// tools/model_options.hpp — the command-line options that generate and chat share: how to open the
// model (--model --vocab --precision --backend --threads --state-init) and how to sample, under the
// names other engines use (llama.cpp, ChatRWKV). docs/cli.md lists them.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "progress.hpp"
#include "rwkv/any_model.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/text/gguf_vocabulary.hpp"
#include "rwkv/text/tokenizer.hpp"

namespace rwkv_cli {

// Every value any_model::open accepts for --precision and --backend, for CLI11's IsMember check
// (so --help lists them and a typo fails before the model is read).
inline std::vector<std::string> precision_names() {
    return {std::begin(rwkv::any_model::precisions), std::end(rwkv::any_model::precisions)};
}
inline std::vector<std::string> backend_names() {
    return {std::begin(rwkv::any_model::backends_built), std::end(rwkv::any_model::backends_built)};
}

struct model_options {
    std::string model, vocab, precision = "f32", backend = "cpu", state_init;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

inline void add_model_options(CLI::App* cmd, model_options& m) {
    cmd->add_option("--model", m.model, "Checkpoint (.pth, .safetensors, GGUF, rwkv.cpp, or a Hugging Face folder or shard index; told apart by content)")->required();
    cmd->add_option("--vocab", m.vocab,
                    "World vocabulary (rwkv_vocab_v20230424.txt), tokenizer.json or 'bytes'; default from the model");
    cmd->add_option("--precision", m.precision, "Weights in memory: f32 | bf16 | f16 | int8 | int4")
        ->check(CLI::IsMember(precision_names()))
        ->capture_default_str();
    cmd->add_option("--backend", m.backend, "cpu (SIMD kernels, threads) | reference (plain loops)")
        ->check(CLI::IsMember(backend_names()))
        ->capture_default_str();
    cmd->add_option("--threads", m.threads, "Worker threads")->capture_default_str();
    cmd->add_option("--state-init", m.state_init,
                    "State-tuning file (.pth or safetensors, blocks.N.att.time_state): the initial matrix state");
}

// The tokenizer: --vocab, else what the model file names or carries (metadata "tokenizer": "bytes",
// a GGUF's World vocabulary), else bytes for a 256-token model.
inline rwkv::text::any_tokenizer load_tokenizer(const std::string& vocab, const rwkv::io::tensor_file* model_file,
                                         std::size_t n_vocab) {
    if (!vocab.empty()) return rwkv::text::open_tokenizer(vocab);
    if (model_file) {
        const auto& md = model_file->metadata();
        if (auto it = md.find("tokenizer"); it != md.end() && it->second == "bytes") return rwkv::text::byte_tokenizer{};
        // A GGUF file made by llama.cpp carries its World vocabulary.
        if (auto world = rwkv::text::world_tokenizer_from_gguf_metadata(md, model_file->display_name()))
            return std::move(*world);
    }
    if (n_vocab == 256) return rwkv::text::byte_tokenizer{};
    throw rwkv::invalid_argument("this model needs a tokenizer: pass --vocab FILE (the World vocabulary "
                                 "rwkv_vocab_v20230424.txt)");
}


struct text_model {
    rwkv::any_model model;
    rwkv::text::any_tokenizer tokenizer;
};

// Opens the model and its tokenizer (a "loading" line on a terminal) and checks that they fit.
inline text_model open_text_model(const model_options& m) {
    rwkv::open_options opt;
    opt.precision = m.precision;
    opt.backend = m.backend;
    opt.threads = static_cast<std::size_t>(m.threads);
    progress_status loading("loading " + m.model);
    const auto file = rwkv::io::tensor_file::open(m.model);
    auto model = rwkv::any_model::open(m.model, opt);
    const std::size_t n_vocab = model.summary().n_vocab;
    auto tok = load_tokenizer(m.vocab, &file, n_vocab);
    if (static_cast<std::size_t>(tok.vocab_size()) > n_vocab)
        throw rwkv::invalid_argument("tokenizer '" + std::string(tok.name()) + "' has " +
                                     std::to_string(tok.vocab_size()) + " ids but the model only " +
                                     std::to_string(n_vocab));
    return {std::move(model), std::move(tok)};
}

inline void add_sampling_options(CLI::App* cmd, rwkv::generate::sampler_config& s) {
    cmd->add_option("--temperature", s.temperature, "Softmax temperature; 0 = greedy (arg max)")->capture_default_str();
    cmd->add_option("--top-p", s.top_p, "Nucleus: keep the most likely tokens up to this mass, in (0, 1]; 1 = off")
        ->capture_default_str();
    cmd->add_option("--top-k", s.top_k, "Keep the k most likely tokens; 0 = off")->capture_default_str();
    cmd->add_option("--min-p", s.min_p, "Keep tokens with p >= min-p * p(top token), in [0, 1]; 0 = off")
        ->capture_default_str();
    cmd->add_option("--repeat-penalty", s.repeat_penalty,
                    "Divide positive / multiply negative logits of the last --repeat-last-n tokens; 1 = off")
        ->capture_default_str();
    cmd->add_option("--repeat-last-n", s.repeat_last_n, "Window of --repeat-penalty in tokens; 0 = off")
        ->capture_default_str();
    cmd->add_option("--presence-penalty", s.presence_penalty, "Subtracted once from the logit of every token used")
        ->capture_default_str();
    cmd->add_option("--frequency-penalty", s.frequency_penalty, "Subtracted per (decayed) use of a token")
        ->capture_default_str();
    cmd->add_option("--penalty-decay", s.penalty_decay, "Use counts are multiplied by this per token, in (0, 1]")
        ->capture_default_str();
    cmd->add_option("--seed", s.seed, "Random seed: the same seed and input give the same text")->capture_default_str();
}

}  // namespace rwkv_cli
