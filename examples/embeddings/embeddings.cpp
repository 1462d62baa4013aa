// Embed a few sentences with an EmbeddingRWKV model, rank them against a query by cosine similarity,
// then (optionally) re-score the ranking with the state-based RWKV-Reranker.
//
//   rwkv-example-embeddings EMB.pth VOCAB.txt [--reranker RR.pth] [--query TEXT] [--docs FILE] [--threads N]
//
// Two things worth seeing here (docs/architectures/embedding.md explains the model):
//   * an embedding is the pooled, normalised hidden state at the EOS token (65535) the caller appends;
//   * reranking reads the *recurrent state* after document + query, so the document's part of that
//     state is computed once and forked for each query (offline reranking): a copy of an RWKV state is
//     an independent fork, and nothing is re-read.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/embedding.hpp"
#include "rwkv/text/world_tokenizer.hpp"

namespace er = rwkv::embedding_rwkv;
using backend = rwkv::backends::cpu;

namespace {

const std::vector<std::string> default_docs = {
    "The cat sat on the warm windowsill and watched the birds.",
    "Interest rates rose again, and the central bank hinted at more.",
    "A kitten is a young cat; it sleeps for most of the day.",
    "The recipe needs two eggs, a cup of flour and a pinch of salt.",
    "Recurrent networks carry a fixed-size state from one token to the next.",
};

// The reranker was trained on this prompt; the document comes first, so its state can be cached.
constexpr std::string_view rerank_document_part = "Instruct: Given a query, retrieve documents that answer the query\nDocument: ";
constexpr std::string_view rerank_query_part = "\nQuery: ";

std::vector<std::string> read_lines(const char* path) {
    std::ifstream in(path);
    if (!in) throw rwkv::io_error(std::string(path) + ": cannot open the documents file");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    if (lines.empty()) throw rwkv::invalid_argument(std::string(path) + ": no documents (one per line)");
    return lines;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: %s EMB.pth VOCAB.txt [--reranker RR.pth] [--query TEXT] [--docs FILE] [--threads N]\n",
                     argv[0]);
        return 2;
    }
    std::string reranker_path, query = "Which sentence is about a young cat?";
    std::vector<std::string> docs = default_docs;
    std::size_t threads = 1;
    try {
        for (int i = 3; i < argc; ++i) {
            const std::string_view arg = argv[i];
            if (i + 1 >= argc) throw rwkv::invalid_argument(std::string(arg) + " needs a value");
            if (arg == "--reranker") reranker_path = argv[++i];
            else if (arg == "--query") query = argv[++i];
            else if (arg == "--docs") docs = read_lines(argv[++i]);
            else if (arg == "--threads") threads = std::stoul(argv[++i]);
            else throw rwkv::invalid_argument("unknown option " + std::string(arg));
        }

        if (threads < 1) throw rwkv::invalid_argument("--threads must be at least 1");
        const backend cpu(threads);  // copies share one thread pool: the model and the reranker use it
        const auto tokenizer = rwkv::text::world_tokenizer::from_file(argv[2]);
        const auto model = er::model<backend>::load(argv[1], cpu);
        auto state = model.make_state();
        auto workspace = model.make_workspace(256);  // scratch sized once; embed() allocates nothing
        auto with_eos = [&](std::string_view text) {
            auto ids = tokenizer.encode(text);
            ids.push_back(er::eos_token);  // the model pools its hidden state at EOS
            return ids;
        };
        auto embed = [&](std::string_view text) {
            std::vector<float> e(model.dim());
            std::ranges::fill(state.values(), 0.0f);  // every text starts from the zero state
            model.embed(with_eos(text), state, workspace, e, er::task::retrieval);
            return e;
        };

        // 1. Embeddings and cosine similarity.
        const auto q = embed(query);
        std::vector<float> cosine(docs.size());
        for (std::size_t i = 0; i < docs.size(); ++i) cosine[i] = er::cosine_similarity(q, embed(docs[i]));
        std::vector<std::size_t> order(docs.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::ranges::stable_sort(order, [&](std::size_t a, std::size_t b) { return cosine[a] > cosine[b]; });

        std::printf("query: %s\n\nby cosine similarity of %zu-dimensional embeddings:\n", query.c_str(), model.dim());
        for (std::size_t rank = 0; rank < order.size(); ++rank)
            std::printf("  %zu. %+.4f  %s\n", rank + 1, cosine[order[rank]], docs[order[rank]].c_str());
        if (reranker_path.empty()) return 0;

        // 2. Reranking from the state. Each document's prefix runs once into a cached state; a query is
        //    a fork of that state plus the query's tokens and EOS. (The two halves are tokenized apart,
        //    which is what offline reranking means; the reranker reads the WKV matrices, not tokens.)
        const auto reranker = er::reranker<backend>::load(reranker_path, cpu);
        auto reranker_workspace = reranker.make_workspace();
        std::vector<decltype(model.make_state())> document_states;
        for (const auto& doc : docs) {
            auto s = model.make_state();
            model.advance(tokenizer.encode(std::string(rerank_document_part) + doc), s, workspace);
            document_states.push_back(std::move(s));
        }
        const auto query_tokens = with_eos(std::string(rerank_query_part) + query);
        std::vector<float> score(docs.size());
        for (std::size_t i = 0; i < docs.size(); ++i) {
            auto fork = document_states[i].fork();  // the cached document state stays untouched
            model.advance(query_tokens, fork, workspace);
            score[i] = er::reranker<backend>::score(reranker.logit(fork, reranker_workspace));
        }
        std::ranges::stable_sort(order, [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
        std::printf("\nreranked (relevance = sigmoid of the reranker's logit):\n");
        for (std::size_t rank = 0; rank < order.size(); ++rank)
            std::printf("  %zu. %.4f  %s\n", rank + 1, score[order[rank]], docs[order[rank]].c_str());
    } catch (const rwkv::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {  // std::stoul on a bad --threads
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
