// tools/embed_commands.hpp — rwkv-cli's text-embedding commands (EmbeddingRWKV; issue "Text
// embeddings and reranking"). Registers its subcommands on the app and, when one of them is parsed,
// sets `action` to the function that runs it (errors are mapped to exit codes by main).
//
//   rwkv-cli embed  --model EMB (--tokens SEQS.json | --vocab V --text-file F) --emb-out OUT.f32
//                   [--head retr|cls|sts] [--batch-pad] [--state-out S.f32] [--precision f32|bf16|f16]
//   rwkv-cli rerank --model EMB --reranker RR --pairs PAIRS.json --logits-out OUT.f32
//                   [--mode online|offline] [--batch-pad] [--reranker-layers 0,6,11] [--precision ...]
//   rwkv-cli eval-retrieval --model EMB --vocab V --data BEIR_DIR [--split test] [--query-prefix S]
//                   [--doc-prefix S] [--max-tokens N] [--reranker RR [--rerank-top K]] [--ignore-identical-ids]
//   rwkv-cli eval-retrieval --model EMB --vocab V --sts PAIRS.jsonl [--head sts]
#pragma once


#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "progress.hpp"
#include "rwkv/embedding.hpp"
#include "rwkv/tooling/embedding_evaluation.hpp"
#include "rwkv/text/world_tokenizer.hpp"

namespace rwkv_cli {

namespace embed_detail {

namespace er = rwkv::embedding_rwkv;
using token_lists = std::vector<std::vector<std::int32_t>>;

inline nlohmann::json read_json(const fs::path& p) {
    try {
        return nlohmann::json::parse(read_text_file(p));
    } catch (const nlohmann::json::exception& e) {
        throw rwkv::format_error(p.string() + ": not valid JSON (" + std::string(e.what()) + ")");
    }
}

// A JSON array of token ids; `where` names it in errors.
inline std::vector<std::int32_t> token_array(const nlohmann::json& j, const std::string& where) {
    if (!j.is_array()) throw rwkv::format_error(where + ": expected an array of token ids");
    std::vector<std::int32_t> out;
    out.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) {
        if (!j[i].is_number_integer())
            throw rwkv::format_error(where + ": element " + std::to_string(i) + " is not an integer token id");
        const auto id = j[i].get<std::int64_t>();
        if (id < 0 || id > INT32_MAX)
            throw rwkv::invalid_argument(where + ": token id " + std::to_string(id) + " at position " +
                                         std::to_string(i) + " is out of range");
        out.push_back(static_cast<std::int32_t>(id));
    }
    if (out.empty()) throw rwkv::invalid_argument(where + ": the token list is empty");
    return out;
}

inline token_lists token_arrays(const nlohmann::json& j, const std::string& where) {
    if (!j.is_array() || j.empty())
        throw rwkv::format_error(where + ": expected a non-empty JSON array of token arrays");
    token_lists out;
    for (std::size_t i = 0; i < j.size(); ++i) out.push_back(token_array(j[i], where + " [" + std::to_string(i) + "]"));
    return out;
}

// One text per line ('\n', a trailing '\r' dropped; no line after a final newline), World-tokenized,
// EOS appended (the package's encode(text, add_eos=True)).
inline token_lists tokenize_lines(const std::string& vocab, const std::string& text_file) {
    const auto tok = rwkv::text::world_tokenizer::from_file(vocab);
    const std::string text = read_text_file(text_file);
    token_lists out;
    std::size_t begin = 0;
    while (begin < text.size()) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + begin, end - begin);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto ids = tok.encode(line);
        ids.push_back(er::eos_token);
        out.push_back(std::move(ids));
        begin = end + 1;
    }
    if (out.empty()) throw rwkv::invalid_argument(text_file + ": no lines to embed");
    return out;
}

// Dispatch on --precision: calls fn(Precision{}).
template <class Fn>
int with_precision(const std::string& precision, Fn&& fn) {
    if (precision == "f32") return fn(rwkv::precision::f32{});
    if (precision == "bf16") return fn(rwkv::precision::bf16{});
    if (precision == "f16") return fn(rwkv::precision::f16{});
    throw rwkv::invalid_argument("--precision must be f32, bf16 or f16 (got '" + precision + "')");
}

struct embed_args {
    std::string model, tokens, vocab, text_file, emb_out, state_out, head = "retr", precision = "f32";
    bool batch_pad = false, stats = false;
};

template <class Precision>
int run_embed(const embed_args& a) {
    const er::task task = er::parse_task(a.head);
    if (!a.tokens.empty() && !a.text_file.empty())
        throw rwkv::invalid_argument("give either --tokens or --text-file, not both");
    if (a.tokens.empty() && a.text_file.empty())
        throw rwkv::invalid_argument("give --tokens SEQS.json, or --vocab FILE with --text-file FILE");
    if (!a.text_file.empty() && a.vocab.empty())
        throw rwkv::invalid_argument("--text-file needs --vocab FILE (the World vocabulary rwkv_vocab_v20230424.txt)");
    const token_lists seqs =
        a.tokens.empty() ? tokenize_lines(a.vocab, a.text_file) : token_arrays(read_json(a.tokens), a.tokens);

    const auto model = er::model<rwkv::backends::reference, Precision>::load(a.model);
    std::vector<rwkv::state> states;
    std::size_t total_tokens = 0;
    for (const auto& s : seqs) total_tokens += s.size();
    const auto t0 = std::chrono::steady_clock::now();
    const auto emb = model.embed_batch(seqs, task, a.batch_pad ? er::batch_padding::left : er::batch_padding::none,
                                       a.state_out.empty() ? nullptr : &states);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    write_atomically(a.emb_out, emb.data(), emb.size() * sizeof(float));
    if (!a.state_out.empty()) {
        std::vector<float> all;
        for (const auto& st : states) {
            const auto v = er::to_package_layout(st);
            all.insert(all.end(), v.begin(), v.end());
        }
        write_atomically(a.state_out, all.data(), all.size() * sizeof(float));
    }
    if (a.stats)
        std::fprintf(stderr, "%zu embeddings (%zu tokens) in %.3f s: %.1f embeddings/s, %.1f tokens/s\n", seqs.size(),
                     total_tokens, seconds, static_cast<double>(seqs.size()) / seconds,
                     static_cast<double>(total_tokens) / seconds);
    return exit_ok;
}

struct rerank_args {
    std::string model, reranker, pairs, logits_out, mode = "online", layers, precision = "f32";
    bool batch_pad = false;
};

template <class Precision>
int run_rerank(const rerank_args& a) {
    if (a.mode != "online" && a.mode != "offline")
        throw rwkv::invalid_argument("--mode must be online or offline (got '" + a.mode + "')");
    const auto j = read_json(a.pairs);
    if (!j.is_object() || !j.contains("docs") || !j.contains("query"))
        throw rwkv::format_error(a.pairs + ": expected {\"docs\": [token arrays], \"query\": token array}");
    const token_lists docs = token_arrays(j["docs"], a.pairs + ": docs");
    const auto query = token_array(j["query"], a.pairs + ": query");

    std::optional<std::vector<std::int64_t>> layers;
    if (!a.layers.empty()) {
        try {
            layers = er::parse_layer_index(a.layers, "--reranker-layers");
        } catch (const rwkv::format_error& e) {
            throw rwkv::invalid_argument(e.what());
        }
    }
    using backend = rwkv::backends::reference;
    const auto model = er::model<backend, Precision>::load(a.model);
    const auto file = rwkv::io::tensor_file::open(a.reranker);
    const er::reranker<backend, Precision> rr(file, layers);
    rr.check_state(model.backbone().layout());

    // What runs from the zero state: doc + query (online) or the doc alone (offline, whose state
    // is then forked and the query run on top). --batch-pad left-pads those with token 0 to the
    // longest, as one padded batch of the package would.
    const bool online = a.mode == "online";
    token_lists first(docs.size());
    std::size_t longest = 0;
    for (std::size_t i = 0; i < docs.size(); ++i) {
        first[i] = docs[i];
        if (online) first[i].insert(first[i].end(), query.begin(), query.end());
        longest = std::max(longest, first[i].size());
    }
    if (a.batch_pad)
        for (auto& s : first) s.insert(s.begin(), longest - s.size(), er::pad_token);

    auto ws = model.make_workspace(std::min<std::size_t>(std::max(longest, query.size()), 256));
    auto rws = rr.make_workspace();
    auto doc_state = model.make_state();
    rwkv::state st = model.make_state();
    std::vector<float> logits;
    logits.reserve(docs.size());
    for (const auto& s : first) {
        std::ranges::fill(doc_state.values(), 0.0f);
        model.advance(s, doc_state, ws);
        if (online) {
            logits.push_back(rr.logit(doc_state, rws));
        } else {
            std::ranges::copy(doc_state.values(), st.values().begin());  // fork the cached document state
            model.advance(query, st, ws);
            logits.push_back(rr.logit(st, rws));
        }
    }
    write_atomically(a.logits_out, logits.data(), logits.size() * sizeof(float));
    return exit_ok;
}

// ---- eval-retrieval ----------------------------------------------------------------------------------

struct eval_args {
    std::string model, vocab, data, sts, split = "test", query_prefix, doc_prefix, reranker, head, precision = "f32";
    std::string rerank_template =
        "Instruct: Given a query, retrieve documents that answer the query\nDocument: {document}\nQuery: {query}";
    long long max_tokens = 0, rerank_top = 100;
    bool ignore_identical_ids = false, no_progress = false;
};

// World tokens of `text` + EOS, truncated to `max_tokens` (EOS kept) when > 0.
inline std::vector<std::int32_t> encode_with_eos(const rwkv::text::world_tokenizer& tok, std::string_view text,
                                                 std::size_t max_tokens) {
    auto ids = tok.encode(text);
    if (max_tokens > 0 && ids.size() + 1 > max_tokens) ids.resize(max_tokens - 1);
    ids.push_back(er::eos_token);
    return ids;
}

// The template with every {document} and {query} replaced (in one pass: the texts are not rescanned).
inline std::string fill_template(std::string_view t, std::string_view document, std::string_view query) {
    std::string out;
    for (std::size_t i = 0; i < t.size();) {
        if (t.substr(i).starts_with("{document}")) {
            out += document;
            i += 10;
        } else if (t.substr(i).starts_with("{query}")) {
            out += query;
            i += 7;
        } else {
            out += t[i++];
        }
    }
    return out;
}

// Embeddings [n, C] of texts, each from the zero state, one workspace for all.
template <class Model>
std::vector<float> embed_texts(const Model& m, const rwkv::text::world_tokenizer& tok,
                               const std::vector<std::string>& texts, const std::string& prefix, er::task task,
                               std::size_t max_tokens, const char* label, bool progress) {
    const std::size_t C = m.dim();
    std::vector<float> out(texts.size() * C);
    auto ws = m.make_workspace(256);
    auto st = m.make_state();
    progress_bar bar(label, texts.size(), progress);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto ids = encode_with_eos(tok, prefix + texts[i], max_tokens);
        std::ranges::fill(st.values(), 0.0f);
        m.embed(ids, st, ws, std::span(out).subspan(i * C, C), task);
        bar.draw(i + 1);
    }
    return out;
}

template <class Precision>
int run_eval_retrieval(const eval_args& a) {
    using backend = rwkv::backends::reference;
    if (a.vocab.empty()) throw rwkv::invalid_argument("--vocab FILE is required (the World vocabulary)");
    if (a.data.empty() == a.sts.empty())
        throw rwkv::invalid_argument("give either --data BEIR_DIR (retrieval) or --sts PAIRS.jsonl (STS)");
    if (a.max_tokens < 0 || a.max_tokens == 1)
        throw rwkv::invalid_argument("--max-tokens must be 0 (no limit) or at least 2");
    if (a.rerank_top < 1) throw rwkv::invalid_argument("--rerank-top must be at least 1");
    const auto max_tokens = static_cast<std::size_t>(a.max_tokens);
    const bool progress = !a.no_progress;
    const auto tok = rwkv::text::world_tokenizer::from_file(a.vocab);

    if (!a.sts.empty()) {
        const er::task task = er::parse_task(a.head.empty() ? "sts" : a.head);
        const auto pairs = er::eval::load_sts(a.sts);
        const auto m = er::model<backend, Precision>::load(a.model);
        std::vector<std::string> first, second;
        std::vector<double> gold, cosine;
        for (const auto& p : pairs) {
            first.push_back(p.first);
            second.push_back(p.second);
            gold.push_back(p.score);
        }
        const auto e1 = embed_texts(m, tok, first, "", task, max_tokens, "sentence1", progress);
        const auto e2 = embed_texts(m, tok, second, "", task, max_tokens, "sentence2", progress);
        const std::size_t C = m.dim();
        for (std::size_t i = 0; i < pairs.size(); ++i)
            cosine.push_back(er::cosine_similarity(std::span(e1).subspan(i * C, C), std::span(e2).subspan(i * C, C)));
        const nlohmann::json j = {
            {"task", "sts"}, {"cosine_spearman", er::eval::spearman(cosine, gold)}, {"pairs", pairs.size()}};
        std::printf("%s\n", j.dump().c_str());
        return exit_ok;
    }

    const er::task task = er::parse_task(a.head.empty() ? "retr" : a.head);
    const auto d = er::eval::load_beir(a.data, a.split);
    const auto m = er::model<backend, Precision>::load(a.model);
    std::optional<er::reranker<backend, Precision>> rr;
    if (!a.reranker.empty()) {
        rr.emplace(rwkv::io::tensor_file::open(a.reranker));
        rr->check_state(m.backbone().layout());
    }
    const auto docs = embed_texts(m, tok, d.doc_texts, a.doc_prefix, task, max_tokens, "documents", progress);
    const auto queries = embed_texts(m, tok, d.query_texts, a.query_prefix, task, max_tokens, "queries", progress);
    const std::size_t keep = std::max<std::size_t>(100, static_cast<std::size_t>(a.rerank_top)) + 1;
    auto ranked = er::eval::rank_by_cosine(queries, docs, m.dim(), d.doc_ids, keep);

    std::map<std::string, std::size_t> doc_index;
    for (std::size_t i = 0; i < d.doc_ids.size(); ++i) doc_index.emplace(d.doc_ids[i], i);
    std::map<std::string, std::vector<er::eval::scored_doc>> runs;
    const std::size_t top = static_cast<std::size_t>(a.rerank_top);
    {  // the bar ends its line before the results are printed
        progress_bar bar("reranking", rr ? d.query_ids.size() : 0, progress && rr.has_value());
        auto ws = m.make_workspace(256);
        auto rws = rr ? rr->make_workspace() : typename er::reranker<backend, Precision>::workspace{};
        auto st = m.make_state();
        for (std::size_t q = 0; q < d.query_ids.size(); ++q) {
            auto& run = ranked[q];
            if (a.ignore_identical_ids) std::erase_if(run, [&](const auto& s) { return s.id == d.query_ids[q]; });
            if (run.size() > keep - 1) run.resize(keep - 1);
            if (rr) {  // MTEB's two-stage protocol: the run becomes the top-K, scored by the reranker
                run.resize(std::min(run.size(), top));
                for (auto& s : run) {
                    const std::string& doc = d.doc_texts[doc_index.at(std::string(s.id))];
                    const auto ids =
                        encode_with_eos(tok, fill_template(a.rerank_template, doc, d.query_texts[q]), max_tokens);
                    std::ranges::fill(st.values(), 0.0f);
                    m.advance(ids, st, ws);
                    s.score = rr->logit(st, rws);
                }
                er::eval::trec_sort(run);
                bar.draw(q + 1);
            }
            runs.emplace(d.query_ids[q], std::move(run));
        }
    }
    const auto r = er::eval::evaluate(d.qrels, runs);
    const nlohmann::json j = {{"task", "retrieval"},         {"ndcg_at_10", r.ndcg_at_10},
                              {"map_at_10", r.map_at_10},    {"recall_at_100", r.recall_at_100},
                              {"queries", r.queries},        {"documents", d.doc_ids.size()},
                              {"reranked_top", rr ? top : 0}};
    std::printf("%s\n", j.dump().c_str());
    return exit_ok;
}

}  // namespace embed_detail

inline void add_embed_commands(CLI::App& app, std::function<int()>& action) {
    using namespace embed_detail;
    auto ea = std::make_shared<embed_args>();
    auto* embed = app.add_subcommand("embed", "EmbeddingRWKV: write one embedding per sequence as raw f32 [n, C]");
    embed->add_option("--model", ea->model, "EmbeddingRWKV checkpoint (rwkv.* + head.*; .pth or .safetensors)")
        ->required();
    embed->add_option("--tokens", ea->tokens, "JSON array of token arrays (each should end with EOS 65535)");
    embed->add_option("--vocab", ea->vocab, "World vocabulary (with --text-file)");
    embed->add_option("--text-file", ea->text_file, "One text per line; World-tokenized, EOS 65535 appended");
    embed->add_option("--emb-out", ea->emb_out, "Output: little-endian f32 [n, C]")->required();
    embed->add_option("--head", ea->head, "Task head: retr | cls | sts (or the package's [RETR], [CLS], [STS])")
        ->capture_default_str();
    embed->add_flag("--batch-pad", ea->batch_pad, "Left-pad with token 0 to the longest, as the package's batches");
    embed->add_option("--state-out", ea->state_out,
                      "Final states, per sequence [L,2,C] then [L,H,N,N] (the package's layout), raw f32");
    embed->add_option("--precision", ea->precision, "f32 | bf16 | f16 weights")
        ->check(CLI::IsMember({"f32", "bf16", "f16"}))
        ->capture_default_str();
    embed->add_flag("--stats", ea->stats, "Print timing to stderr");
    embed->callback([ea, &action] {
        action = [ea] { return with_precision(ea->precision, [&](auto p) { return run_embed<decltype(p)>(*ea); }); };
    });

    auto ra = std::make_shared<rerank_args>();
    auto* rerank = app.add_subcommand("rerank", "RWKV-Reranker: write the relevance logit of each document, raw f32");
    rerank->add_option("--model", ra->model, "EmbeddingRWKV checkpoint")->required();
    rerank->add_option("--reranker", ra->reranker, "Reranker checkpoint (reranker.*)")->required();
    rerank->add_option("--pairs", ra->pairs, "JSON {\"docs\": [token arrays], \"query\": token array}")->required();
    rerank->add_option("--logits-out", ra->logits_out, "Output: little-endian f32 [n_docs] (before sigmoid)")
        ->required();
    rerank->add_option("--mode", ra->mode, "online (doc + query in one pass) | offline (query on the cached doc state)")
        ->check(CLI::IsMember({"online", "offline"}))
        ->capture_default_str();
    rerank->add_flag("--batch-pad", ra->batch_pad,
                     "Left-pad with token 0 to the longest (online: the pairs; offline: the documents)");
    rerank->add_option("--reranker-layers", ra->layers,
                       "Embedding layers feeding the reranker blocks, e.g. 0,6,11 (overrides the file's)");
    rerank->add_option("--precision", ra->precision, "f32 | bf16 | f16 weights")
        ->check(CLI::IsMember({"f32", "bf16", "f16"}))
        ->capture_default_str();
    auto va = std::make_shared<eval_args>();
    auto* ev = app.add_subcommand(
        "eval-retrieval", "MTEB-protocol evaluation: BEIR retrieval (nDCG@10, MAP@10, recall@100) or STS (Spearman)");
    ev->add_option("--model", va->model, "EmbeddingRWKV checkpoint")->required();
    ev->add_option("--vocab", va->vocab, "World vocabulary (rwkv_vocab_v20230424.txt)")->required();
    ev->add_option("--data", va->data, "BEIR directory: corpus.jsonl, queries.jsonl, qrels/<split>.tsv");
    ev->add_option("--sts", va->sts, "STS mode: JSON lines {sentence1, sentence2, score}");
    ev->add_option("--split", va->split, "qrels split")->capture_default_str();
    ev->add_option("--head", va->head, "Task head: retr | cls | sts (default: retr for retrieval, sts for STS)");
    ev->add_option("--query-prefix", va->query_prefix, "Text put before every query (e.g. an instruction)");
    ev->add_option("--doc-prefix", va->doc_prefix, "Text put before every document");
    ev->add_option("--max-tokens", va->max_tokens, "Truncate each text to N tokens, EOS included (0: no limit)")
        ->capture_default_str();
    ev->add_option("--reranker", va->reranker, "Rerank each query's top documents with this RWKV-Reranker");
    ev->add_option("--rerank-top", va->rerank_top, "How many documents to rerank per query")->capture_default_str();
    ev->add_option("--rerank-template", va->rerank_template, "Reranker input ({document}, {query}; EOS appended)");
    ev->add_flag("--ignore-identical-ids", va->ignore_identical_ids, "Drop a document whose id equals the query's");
    ev->add_flag("--no-progress", va->no_progress, "No progress bar");
    ev->add_option("--precision", va->precision, "f32 | bf16 | f16 weights")
        ->check(CLI::IsMember({"f32", "bf16", "f16"}))
        ->capture_default_str();
    ev->callback([va, &action] {
        action = [va] {
            return with_precision(va->precision, [&](auto p) { return run_eval_retrieval<decltype(p)>(*va); });
        };
    });

    rerank->callback([ra, &action] {
        action = [ra] { return with_precision(ra->precision, [&](auto p) { return run_rerank<decltype(p)>(*ra); }); };
    });
}

}  // namespace rwkv_cli
