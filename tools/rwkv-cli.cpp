// rwkv-cli — evaluate, generate with, inspect and create RWKV checkpoints.
//
// Contracts (docs/contracts.md): every error is one line on stderr and a non-zero exit code
// below 126 (docs/errors.md lists them); output files are written atomically.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_command.hpp"
#include "chat_command.hpp"
#include "cli_common.hpp"
#include "embed_commands.hpp"
#include "model_options.hpp"
#include "progress.hpp"
#include "rwkv/io/safetensors.hpp"
#include "rwkv/state/state_tuning.hpp"
#include "rwkv/text/gguf_vocabulary.hpp"
#include "rwkv/tooling/gguf_export.hpp"
#include "rwkv/tooling/init.hpp"
#include "rwkv/rwkv.hpp"

namespace {

using namespace rwkv_cli;

// ---- eval ----------------------------------------------------------------------------------------
struct eval_args {
    std::string model, tokens, logits_out, mode = "rnn", precision = "f32", backend = "cpu", config,
                state_out, state_init;
    std::optional<long long> prefill;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

int run_eval(const eval_args& a) {
    check_threads(a.threads);
    if (a.mode != "rnn" && a.mode != "seq")
        throw rwkv::invalid_argument("--mode must be rnn or seq (got '" + a.mode + "')");
    if (a.mode == "seq" && a.prefill) throw rwkv::invalid_argument("--prefill is only valid with --mode rnn");
    const auto tokens = read_tokens_json(a.tokens);
    if (tokens.empty()) throw rwkv::invalid_argument(a.tokens + ": the token list is empty");
    const std::size_t T = tokens.size();
    std::size_t prefill = 0;
    if (a.mode == "seq") prefill = T;
    if (a.prefill) {
        if (*a.prefill < 0 || static_cast<unsigned long long>(*a.prefill) > T)
            throw rwkv::invalid_argument("--prefill must be between 0 and the number of tokens (" +
                                         std::to_string(T) + "), got " + std::to_string(*a.prefill));
        prefill = static_cast<std::size_t>(*a.prefill);
    }

    rwkv::open_options opt;
    opt.precision = a.precision;
    opt.backend = a.backend;
    opt.threads = static_cast<std::size_t>(a.threads);
    opt.goldfinch_config = a.config;
    opt.max_context = std::max<std::size_t>(opt.max_context, T);
    std::optional<rwkv::any_model> loaded;
    {
        progress_status loading("loading " + a.model);
        loaded.emplace(rwkv::any_model::open(a.model, opt));
    }
    const auto& model = *loaded;
    const auto info = model.summary();
    const std::size_t V = info.n_vocab;
    std::vector<float> logits(T * V);
    auto st = model.make_state();
    if (!a.state_init.empty()) rwkv::apply_state_tuning(st, fs::path(a.state_init));
    auto ws = model.make_workspace(std::max<std::size_t>(1, std::min<std::size_t>(std::max<std::size_t>(prefill, 1), 256)));
    if (prefill > 0)
        model.forward(std::span(tokens).first(prefill), st, *ws, std::span(logits).first(prefill * V),
                      rwkv::logits_mode::all);
    for (std::size_t t = prefill; t < T; ++t)
        model.forward(std::span(tokens).subspan(t, 1), st, *ws, std::span(logits).subspan(t * V, V),
                      rwkv::logits_mode::last);

    write_atomically(a.logits_out, logits.data(), logits.size() * sizeof(float));
    if (!a.state_out.empty())
        write_atomically(a.state_out, st.values().data(), st.values().size() * sizeof(float));
    return exit_ok;
}

// ---- info ----------------------------------------------------------------------------------------
int run_info(const std::string& path, bool json) {
    const auto file = rwkv::io::tensor_file::open(path);
    const auto arch = rwkv::detect_architecture(file);
    const auto model = rwkv::any_model::open(path);
    const auto s = model.summary();
    std::size_t params = 0, bytes = 0;
    for (const auto& t : file.tensors()) {
        params += static_cast<std::size_t>(t.numel());
        bytes += t.bytes.size();
    }
    const std::size_t state_floats = model.make_state().values().size();
    // A batched decode step's workspace holds one row of activations per agent.
    const std::size_t workspace_per_agent = model.make_workspace(64)->bytes() / 64;
    nlohmann::json j = {{"file", path},
                        {"format", std::string(file.format())},
                        {"architecture", std::string(rwkv::architecture_name(arch))},
                        {"n_vocab", s.n_vocab},
                        {"n_embd", s.n_embd},
                        {"n_layer", s.n_layer},
                        {"n_head", s.n_head},
                        {"head_size", s.head_size},
                        {"dim_ffn", s.dim_ffn},
                        {"tensors", file.tensors().size()},
                        {"parameters", params},
                        {"weight_bytes", bytes},
                        {"state_bytes", state_floats * sizeof(float)},
                        {"workspace_bytes_per_agent", workspace_per_agent},
                        {"memory_per_agent_bytes", state_floats * sizeof(float) + workspace_per_agent},
                        {"metadata", file.metadata()}};
    if (json) {
        std::cout << j.dump(1) << '\n';
    } else {
        for (const char* k : {"file", "format", "architecture", "n_vocab", "n_embd", "n_layer", "n_head", "head_size",
                              "dim_ffn", "tensors", "parameters", "weight_bytes", "state_bytes", "workspace_bytes_per_agent",
                              "memory_per_agent_bytes"}) {
            const auto& v = j[k];
            std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << '\n';
        }
    }
    return exit_ok;
}

// ---- tokenizers ------------------------------------------------------------------------------------
int run_tokenize(const std::string& vocab, const std::optional<std::string>& text, const std::string& text_file) {
    if (text && !text_file.empty()) throw rwkv::invalid_argument("give either --text or --text-file, not both");
    if (!text && text_file.empty()) throw rwkv::invalid_argument("give --text STRING or --text-file FILE");
    const auto tok = load_tokenizer(vocab, nullptr, 0);
    const std::string input = text ? *text : read_text_file(text_file);
    const auto ids = tok.encode(input);
    std::cout << nlohmann::json(ids).dump() << '\n';
    return exit_ok;
}

int run_detokenize(const std::string& vocab, const std::string& tokens_path) {
    const auto tok = load_tokenizer(vocab, nullptr, 0);
    const auto ids = read_tokens_json(tokens_path);
    const std::string bytes = tok.decode(ids);
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    std::fflush(stdout);
    return exit_ok;
}

// ---- generate --------------------------------------------------------------------------------------
struct generate_args {
    model_options m;
    std::string prompt;
    long long n = 100;
    rwkv::generate::sampler_config sampling{};
    bool stats = false;
};

int run_generate(const generate_args& a) {
    check_threads(a.m.threads);
    if (a.n < 0) throw rwkv::invalid_argument("-n must be ≥ 0 (got " + std::to_string(a.n) + ")");
    const auto [model, tok] = open_text_model(a.m);
    const auto info = model.summary();
    const auto prompt = tok.encode(a.prompt);
    if (prompt.empty()) throw rwkv::invalid_argument("--prompt is empty: give at least one character");

    rwkv::generate::sampler sampler(a.sampling, static_cast<std::int32_t>(info.n_vocab));
    auto st = model.make_state();
    if (!a.m.state_init.empty()) rwkv::apply_state_tuning(st, fs::path(a.m.state_init));
    auto ws = model.make_workspace(std::min<std::size_t>(prompt.size(), prefill_chunk));
    std::vector<float> logits(info.n_vocab);
    rwkv::text::utf8_stream_decoder decoder;
    std::string out;
    out.reserve(1024);

    const auto t0 = std::chrono::steady_clock::now();
    prefill(model, prompt, st, *ws, logits, true);
    const auto t1 = std::chrono::steady_clock::now();
    long long produced = 0;
    const auto eot = tok.end_of_text_id();
    for (; produced < a.n; ++produced) {
        const std::int32_t next = sampler.sample(logits);
        sampler.accept(next);
        if (eot && next == *eot) break;
        out.clear();
        decoder.push(tok.token_bytes(next), out);
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
        model.forward(std::span(&next, 1), st, *ws, logits);
    }
    out.clear();
    decoder.flush(out);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    const auto t2 = std::chrono::steady_clock::now();
    // The summary goes to stderr, so stdout stays the contracted text; on a terminal it always shows.
    if (a.stats || stderr_is_terminal()) {
        const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
        const double decode_s = std::chrono::duration<double>(t2 - t1).count();
        std::fprintf(stderr, "prompt %zu tokens in %.3f s (%.1f tok/s); generated %lld tokens in %.3f s (%.1f tok/s)\n",
                     prompt.size(), prefill_s, static_cast<double>(prompt.size()) / prefill_s, produced, decode_s,
                     static_cast<double>(produced) / decode_s);
    }
    return exit_ok;
}

// ---- init ------------------------------------------------------------------------------------------
struct init_args {
    std::string arch, out, tokenizer;
    long long n_embd = 0, n_layer = 0, vocab = 0, head_size = 64, dim_ffn = 0;
    unsigned long long seed = 0;
    bool g1 = false;
};

// v4 … v7, rwkv4 … rwkv7, goldfinch; anything else is unsupported (exit 6), like an unknown model.
rwkv::architecture init_architecture(const std::string& name) {
    static const std::pair<const char*, rwkv::architecture> names[] = {
        {"v4", rwkv::architecture::rwkv4}, {"v5", rwkv::architecture::rwkv5}, {"v5.2", rwkv::architecture::rwkv5},
        {"v6", rwkv::architecture::rwkv6}, {"v7", rwkv::architecture::rwkv7}};
    for (const auto& [n, a] : names)
        if (name == n) return a;
    if (const auto a = rwkv::architecture_from_name(name)) return *a;
    throw rwkv::unsupported_error("init: unknown architecture '" + name +
                                  "' (supported: v4, v5, v6, v7, goldfinch; or rwkv4 … rwkv7)");
}

int run_init(const init_args& a) {
    rwkv::init_options o;
    o.arch = init_architecture(a.arch);
    for (auto [name, v] : {std::pair{"--n-embd", a.n_embd}, {"--n-layer", a.n_layer}, {"--vocab", a.vocab},
                           {"--head-size", a.head_size}})
        if (v <= 0 || v > (1 << 20))
            throw rwkv::invalid_argument(std::string(name) + " must be between 1 and 1048576 (got " + std::to_string(v) + ")");
    if (a.dim_ffn < 0 || a.dim_ffn > (1 << 22))
        throw rwkv::invalid_argument("--dim-ffn must be between 0 (the default) and 4194304 (got " +
                                     std::to_string(a.dim_ffn) + ")");
    o.n_embd = static_cast<std::size_t>(a.n_embd);
    o.n_layer = static_cast<std::size_t>(a.n_layer);
    o.n_vocab = static_cast<std::size_t>(a.vocab);
    o.head_size = static_cast<std::size_t>(a.head_size);
    o.dim_ffn = static_cast<std::size_t>(a.dim_ffn);
    o.seed = a.seed;
    o.g1_layout = a.g1;
    const auto tensors = rwkv::random_weights(o);
    std::vector<rwkv::io::tensor_to_write> w;
    for (const auto& t : tensors) w.push_back({t.name, rwkv::dtype::f32, t.shape, std::as_bytes(std::span(t.data))});
    auto md = rwkv::init_metadata(o);
    md["note"] = "random weights made by rwkv-cli init";
    if (!a.tokenizer.empty()) md["tokenizer"] = a.tokenizer;
    rwkv::io::write_safetensors(a.out, w, md);
    return exit_ok;
}

// ---- convert ---------------------------------------------------------------------------------------
struct convert_args {
    std::string model, out, precision = "int8", config, to, vocab;
    bool precision_given = false;
};

// --to, or the output's extension: ".gguf" is GGUF, anything else safetensors.
std::string convert_format(const convert_args& a) {
    if (!a.to.empty()) {
        if (a.to != "gguf" && a.to != "safetensors")
            throw rwkv::invalid_argument("convert: --to must be gguf or safetensors (got '" + a.to + "')");
        return a.to;
    }
    return fs::path(a.out).extension() == ".gguf" ? "gguf" : "safetensors";
}

int run_convert(const convert_args& a) {
    if (a.out.empty()) throw rwkv::invalid_argument("convert: --out is required");
    if (fs::exists(a.model) && fs::exists(a.out) && fs::equivalent(a.model, a.out))
        throw rwkv::invalid_argument("convert: --out must differ from --model (the model is read in place)");
    if (!a.vocab.empty() && convert_format(a) != "gguf")
        throw rwkv::invalid_argument("convert: --vocab applies to GGUF output (--to gguf)");
    if (convert_format(a) == "gguf") {
        // GGUF stores the official tensors as f32 (the default here), f16 or bf16.
        const std::string p = a.precision_given ? a.precision : "f32";
        if (p != "f32" && p != "f16" && p != "bf16")
            throw rwkv::unsupported_error("convert --to gguf: --precision must be f32, f16 or bf16 (got '" + p + "')");
        const auto src = rwkv::io::tensor_file::open(a.model);
        std::optional<rwkv::text::world_tokenizer> vocab;
        if (!a.vocab.empty()) vocab = rwkv::text::world_tokenizer::from_file(a.vocab);
        {
            progress_status writing("writing " + a.out);
            rwkv::write_rwkv7_gguf(src, a.out,
                                   p == "f32" ? rwkv::dtype::f32 : p == "f16" ? rwkv::dtype::f16 : rwkv::dtype::bf16,
                                   vocab ? &*vocab : nullptr);
        }
        std::fprintf(stderr, "convert: %s -> %s (gguf rwkv7, %s; %zu bytes)\n", a.model.c_str(), a.out.c_str(), p.c_str(),
                     static_cast<std::size_t>(fs::file_size(a.out)));
        return exit_ok;
    }
    rwkv::open_options opt;
    opt.precision = a.precision;
    opt.backend = "reference";  // nothing runs; the weights are the same on every backend
    opt.goldfinch_config = a.config;
    std::optional<rwkv::any_model> m;
    {
        progress_status reading("reading " + a.model + " as " + a.precision);
        m.emplace(rwkv::any_model::open(a.model, opt));
    }
    {
        progress_status writing("writing " + a.out);
        m->save_converted(a.out);
    }
    const auto info = m->summary();
    std::fprintf(stderr, "convert: %s -> %s (%s, %s; %zu bytes)\n", a.model.c_str(), a.out.c_str(),
                 std::string(rwkv::architecture_name(info.arch)).c_str(), info.precision.c_str(),
                 static_cast<std::size_t>(fs::file_size(a.out)));
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"rwkv-cli: run RWKV-4/5/6/7 checkpoints (.pth, .safetensors)", "rwkv-cli"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for every subcommand");

    eval_args ev;
    auto* eval = app.add_subcommand("eval", "Write the logits of every position as raw f32 [T, V]");
    eval->add_option("--model", ev.model, "Checkpoint (.pth, .safetensors, GGUF, rwkv.cpp, or a Hugging Face folder or shard index; told apart by content)")->required();
    eval->add_option("--tokens", ev.tokens, "JSON array of token ids")->required();
    eval->add_option("--logits-out", ev.logits_out, "Output file: little-endian f32 [T, V]")->required();
    eval->add_option("--mode", ev.mode, "rnn (one token per call) | seq (one call)")
        ->check(CLI::IsMember({"rnn", "seq"}))
        ->capture_default_str();
    eval->add_option("--prefill", ev.prefill, "rnn mode: first N tokens in one sequence call");
    eval->add_option("--precision", ev.precision, "Weights in memory: f32 | bf16 | f16 | int8 | int4")
        ->check(CLI::IsMember(precision_names()))
        ->capture_default_str();
    eval->add_option("--backend", ev.backend, "cpu (SIMD kernels, threads) | reference (plain loops)")
        ->check(CLI::IsMember(backend_names()))
        ->capture_default_str();
    eval->add_option("--threads", ev.threads, "Worker threads")->capture_default_str();
    eval->add_option("--config", ev.config, "GoldFinch config JSON ({\"model\": {...}})");
    eval->add_option("--state-out", ev.state_out, "Write the final state (official order, raw f32)");
    eval->add_option("--state-init", ev.state_init,
                     "State-tuning file (.pth or safetensors, blocks.N.att.time_state): the initial matrix state");

    generate_args gen;
    auto* generate = app.add_subcommand("generate", "Stream text generated from a prompt");
    add_model_options(generate, gen.m);
    generate->add_option("--prompt", gen.prompt, "Prompt text")->required();
    generate->add_option("-n,--tokens", gen.n, "Tokens to generate")->capture_default_str();
    add_sampling_options(generate, gen.sampling);
    generate->add_flag("--stats", gen.stats, "Print timing to stderr (always shown when stderr is a terminal)");

    std::string info_model;
    bool info_json = false;
    auto* info = app.add_subcommand("info", "Describe a checkpoint");
    info->add_option("--model", info_model, "Checkpoint (.pth, .safetensors, GGUF, rwkv.cpp, or a Hugging Face folder or shard index; told apart by content)")->required();
    info->add_flag("--json", info_json, "Print JSON");

    std::string tk_vocab, tk_file;
    std::optional<std::string> tk_text;
    auto* tokenize = app.add_subcommand("tokenize", "Print token ids as a JSON array");
    tokenize->add_option("--vocab", tk_vocab, "World vocabulary, tokenizer.json (GPT-NeoX BPE) or 'bytes'")->required();
    tokenize->add_option("--text", tk_text, "Text to encode");
    tokenize->add_option("--text-file", tk_file, "File whose raw bytes to encode");

    std::string dt_vocab, dt_tokens;
    auto* detokenize = app.add_subcommand("detokenize", "Write the bytes of a JSON array of token ids");
    detokenize->add_option("--vocab", dt_vocab, "World vocabulary, tokenizer.json (GPT-NeoX BPE) or 'bytes'")->required();
    detokenize->add_option("--tokens", dt_tokens, "JSON array of token ids")->required();

    init_args in;
    auto* init = app.add_subcommand("init", "Write a random-weight model (.safetensors) at any shape");
    init->add_option("--arch", in.arch, "v4 | v5 | v6 | v7 | goldfinch (or rwkv4 … rwkv7)")->required();
    init->add_option("--n-embd", in.n_embd, "Model width C")->required();
    init->add_option("--n-layer", in.n_layer, "Number of blocks")->required();
    init->add_option("--vocab,--vocab-size", in.vocab, "Vocabulary size")->required();
    init->add_option("--head-size", in.head_size, "32, 64 or 128 (v5, v6, v7; GoldFinch 64; not used by v4)")
        ->capture_default_str();
    init->add_option("--dim-ffn", in.dim_ffn, "FFN width; 0 = the version's default (4C; 3.5C for v5, v6, goldfinch)")
        ->capture_default_str();
    init->add_option("--seed", in.seed, "Random seed of the weights")->capture_default_str();
    init->add_option("--tokenizer", in.tokenizer, "Recorded in the metadata (e.g. 'bytes')");
    init->add_flag("--g1-layout", in.g1, "v7: omit layer 0's v0/v1/v2 (the released G1 layout)");
    init->add_option("--out", in.out, "Output .safetensors")->required();

    convert_args cv;
    auto* convert = app.add_subcommand(
        "convert", "Write a model in a precision's own storage (quantized, bf16, ...) so that it loads with no work");
    convert->add_option("--model", cv.model, "Checkpoint (.pth, .safetensors, GGUF, rwkv.cpp, or a Hugging Face folder or shard index; told apart by content)")->required();
    auto* cv_precision = convert->add_option("--precision", cv.precision,
                                             "f32 | bf16 | f16 | int8 | int4 (GGUF: f32 | f16 | bf16, default f32)")
                             ->check(CLI::IsMember(precision_names()))
                             ->capture_default_str();
    convert->add_option("--config", cv.config, "GoldFinch config JSON ({\"model\": {...}})");
    convert->add_option("--to", cv.to, "gguf | safetensors (default: gguf for an --out ending in .gguf)")
        ->check(CLI::IsMember({"gguf", "safetensors"}));
    convert->add_option("--vocab", cv.vocab, "GGUF output: World vocabulary file to store in the file's metadata");
    convert->add_option("--out", cv.out, "Output .safetensors or .gguf")->required();

    // Commands defined in their own headers set `action` when they are the one parsed.
    std::function<int()> action;
    add_chat_command(app, action);
    add_embed_commands(app, action);
    add_bench_command(app, action);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        for (auto& ch : msg)
            if (ch == '\n') ch = ' ';
        std::fprintf(stderr, "rwkv-cli: %s (see rwkv-cli --help)\n", msg.c_str());
        return exit_usage;
    }

    try {
        if (*eval) return run_eval(ev);
        if (*generate) return run_generate(gen);
        if (*info) return run_info(info_model, info_json);
        if (*tokenize) return run_tokenize(tk_vocab, tk_text, tk_file);
        if (*detokenize) return run_detokenize(dt_vocab, dt_tokens);
        if (*init) return run_init(in);
        if (*convert) {
            cv.precision_given = cv_precision->count() > 0;
            return run_convert(cv);
        }
        if (action) return action();
    } catch (const std::exception& e) {
        print_error(e);
        return exit_code_of_current_exception();
    }
    return exit_usage;
}
