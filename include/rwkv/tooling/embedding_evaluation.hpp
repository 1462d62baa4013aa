// rwkv/tooling/embedding_evaluation.hpp — MTEB-protocol evaluation of text embeddings on local data:
// BEIR-format retrieval (nDCG@10, MAP@10, recall@100, as MTEB computes them through pytrec_eval /
// trec_eval) and STS (Spearman correlation of cosine similarity with gold scores).
//
// Retrieval follows MTEB's dense exact search: a document's text is title + " " + text (stripped)
// when it has a title; every query is scored against every document by cosine similarity; the
// metrics are trec_eval's, averaged over the judged queries:
//   run order   score descending, ties broken by document id descending (trec_eval's ordering)
//   nDCG@k      Σ_{i≤k} g_i / log2(i + 1)  over  the same for the ideal order of all judged docs;
//               g = the qrels relevance (linear gain; ≤ 0 counts as 0)
//   AP@k        Σ_{i≤k, rel_i ≥ 1} P@i / R,   R = judged documents with relevance ≥ 1
//   recall@k    |relevant in the top k| / R;  a query with R = 0 scores 0 on all three
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"

namespace rwkv::embedding_rwkv::eval {

// query id → document id → relevance.
using qrels_map = std::map<std::string, std::map<std::string, int, std::less<>>, std::less<>>;

struct scored_doc {
    std::string_view id;
    double score = 0;
};

// trec_eval's order: by score descending, ties by id descending.
inline void trec_sort(std::vector<scored_doc>& run) {
    std::sort(run.begin(), run.end(), [](const scored_doc& a, const scored_doc& b) {
        if (a.score != b.score) return a.score > b.score;
        return a.id > b.id;
    });
}

namespace detail {
inline int relevance(const std::map<std::string, int, std::less<>>& judged, std::string_view id) {
    const auto it = judged.find(id);
    return it == judged.end() ? 0 : it->second;
}
inline std::size_t relevant_count(const std::map<std::string, int, std::less<>>& judged) {
    std::size_t r = 0;
    for (const auto& [id, rel] : judged) r += rel >= 1;
    return r;
}
}  // namespace detail

// The three measures of one query over a run already in trec order.
inline double ndcg_at(std::span<const scored_doc> run, const std::map<std::string, int, std::less<>>& judged,
                      std::size_t k) {
    double dcg = 0, ideal = 0;
    for (std::size_t i = 0; i < std::min(k, run.size()); ++i)
        dcg += std::max(0, detail::relevance(judged, run[i].id)) / std::log2(static_cast<double>(i) + 2.0);
    std::vector<int> gains;
    for (const auto& [id, rel] : judged)
        if (rel > 0) gains.push_back(rel);
    std::sort(gains.begin(), gains.end(), std::greater<>());
    for (std::size_t i = 0; i < std::min(k, gains.size()); ++i)
        ideal += gains[i] / std::log2(static_cast<double>(i) + 2.0);
    return ideal > 0 ? dcg / ideal : 0.0;
}

inline double average_precision_at(std::span<const scored_doc> run,
                                   const std::map<std::string, int, std::less<>>& judged, std::size_t k) {
    const std::size_t R = detail::relevant_count(judged);
    if (R == 0) return 0.0;
    double sum = 0;
    std::size_t hits = 0;
    for (std::size_t i = 0; i < std::min(k, run.size()); ++i) {
        if (detail::relevance(judged, run[i].id) < 1) continue;
        ++hits;
        sum += static_cast<double>(hits) / static_cast<double>(i + 1);
    }
    return sum / static_cast<double>(R);
}

inline double recall_at(std::span<const scored_doc> run, const std::map<std::string, int, std::less<>>& judged,
                        std::size_t k) {
    const std::size_t R = detail::relevant_count(judged);
    if (R == 0) return 0.0;
    std::size_t hits = 0;
    for (std::size_t i = 0; i < std::min(k, run.size()); ++i) hits += detail::relevance(judged, run[i].id) >= 1;
    return static_cast<double>(hits) / static_cast<double>(R);
}

struct retrieval_metrics {
    double ndcg_at_10 = 0, map_at_10 = 0, recall_at_100 = 0;
    std::size_t queries = 0;  // judged queries that have a run
};

// Mean over the queries present in both `qrels` and `runs` (each run in trec order).
inline retrieval_metrics evaluate(const qrels_map& qrels, const std::map<std::string, std::vector<scored_doc>>& runs) {
    retrieval_metrics m;
    for (const auto& [qid, run] : runs) {
        const auto it = qrels.find(qid);
        if (it == qrels.end()) continue;
        m.ndcg_at_10 += ndcg_at(run, it->second, 10);
        m.map_at_10 += average_precision_at(run, it->second, 10);
        m.recall_at_100 += recall_at(run, it->second, 100);
        ++m.queries;
    }
    if (m.queries > 0) {
        const auto n = static_cast<double>(m.queries);
        m.ndcg_at_10 /= n;
        m.map_at_10 /= n;
        m.recall_at_100 /= n;
    }
    return m;
}

// Ranks (1-based) with ties sharing their average rank, as scipy.stats.rankdata.
inline std::vector<double> average_ranks(std::span<const double> v) {
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> ranks(v.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        const double r = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
        for (std::size_t t = i; t <= j; ++t) ranks[order[t]] = r;
        i = j + 1;
    }
    return ranks;
}

// Spearman's ρ: the Pearson correlation of the average ranks (scipy.stats.spearmanr, MTEB's STS
// "cosine_spearman"). invalid_argument for fewer than 2 pairs or lengths that differ; 0 when a side
// is constant.
inline double spearman(std::span<const double> a, std::span<const double> b) {
    if (a.size() != b.size() || a.size() < 2)
        throw invalid_argument("spearman: needs two equal-length series of at least 2 values (got " +
                               std::to_string(a.size()) + " and " + std::to_string(b.size()) + ")");
    const auto ra = average_ranks(a), rb = average_ranks(b);
    const double mean = (static_cast<double>(a.size()) + 1.0) / 2.0;
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < ra.size(); ++i) {
        ab += (ra[i] - mean) * (rb[i] - mean);
        aa += (ra[i] - mean) * (ra[i] - mean);
        bb += (rb[i] - mean) * (rb[i] - mean);
    }
    return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

// ---- data --------------------------------------------------------------------------------------------

// A BEIR directory: corpus.jsonl ({"_id", "title"?, "text"}), queries.jsonl ({"_id", "text"}) and
// qrels/<split>.tsv ("query-id<TAB>corpus-id<TAB>score", header line optional). Only the queries
// judged in the split are kept, in file order.
struct beir_dataset {
    std::vector<std::string> doc_ids, doc_texts;
    std::vector<std::string> query_ids, query_texts;
    qrels_map qrels;
};

namespace detail {

inline std::string strip(std::string_view s) {
    const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && ws(s.back())) s.remove_suffix(1);
    return std::string(s);
}

// Calls fn(json, line_number) for every non-blank line of a JSON-lines file.
template <class Fn>
void for_each_json_line(const std::filesystem::path& p, Fn&& fn) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw io_error(p.string() + ": cannot open");
    std::string line;
    for (std::size_t n = 1; std::getline(f, line); ++n) {
        if (strip(line).empty()) continue;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            throw format_error(p.string() + ": line " + std::to_string(n) + " is not valid JSON (" + e.what() + ")");
        }
        if (!j.is_object()) throw format_error(p.string() + ": line " + std::to_string(n) + " is not a JSON object");
        fn(j, n);
    }
}

// A field as a string (BEIR ids may be numbers); format_error when absent and required.
inline std::string field(const nlohmann::json& j, const char* name, const std::filesystem::path& p, std::size_t line,
                         bool required = true) {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) {
        if (!required) return {};
        throw format_error(p.string() + ": line " + std::to_string(line) + " has no \"" + name + "\"");
    }
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<long long>());
    throw format_error(p.string() + ": line " + std::to_string(line) + ": \"" + name + "\" is not a string");
}

}  // namespace detail

inline beir_dataset load_beir(const std::filesystem::path& dir, const std::string& split = "test") {
    beir_dataset d;
    const auto qrels_path = dir / "qrels" / (split + ".tsv");
    {
        std::ifstream f(qrels_path, std::ios::binary);
        if (!f) throw io_error(qrels_path.string() + ": cannot open (a BEIR directory has qrels/" + split + ".tsv)");
        std::string line;
        for (std::size_t n = 1; std::getline(f, line); ++n) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (detail::strip(line).empty()) continue;
            std::vector<std::string> cols;
            for (std::size_t b = 0;;) {
                const std::size_t e = line.find('\t', b);
                cols.push_back(line.substr(b, e == std::string::npos ? std::string::npos : e - b));
                if (e == std::string::npos) break;
                b = e + 1;
            }
            if (cols.size() != 3)
                throw format_error(qrels_path.string() + ": line " + std::to_string(n) +
                                   " does not have 3 tab-separated columns (query-id, corpus-id, score)");
            int rel = 0;
            try {
                std::size_t used = 0;
                rel = std::stoi(cols[2], &used);
                if (used != cols[2].size()) throw std::invalid_argument("trailing");
            } catch (const std::exception&) {
                if (n == 1) continue;  // the header "query-id corpus-id score"
                throw format_error(qrels_path.string() + ": line " + std::to_string(n) + ": score '" + cols[2] +
                                   "' is not an integer");
            }
            d.qrels[cols[0]][cols[1]] = rel;
        }
    }
    if (d.qrels.empty()) throw format_error(qrels_path.string() + ": no judgements");

    const auto corpus = dir / "corpus.jsonl";
    detail::for_each_json_line(corpus, [&](const nlohmann::json& j, std::size_t n) {
        d.doc_ids.push_back(detail::field(j, "_id", corpus, n));
        const std::string title = detail::strip(detail::field(j, "title", corpus, n, false));
        const std::string text = detail::field(j, "text", corpus, n);
        d.doc_texts.push_back(title.empty() ? detail::strip(text) : detail::strip(title + " " + text));
    });
    if (d.doc_ids.empty()) throw format_error(corpus.string() + ": no documents");

    const auto queries = dir / "queries.jsonl";
    detail::for_each_json_line(queries, [&](const nlohmann::json& j, std::size_t n) {
        std::string id = detail::field(j, "_id", queries, n);
        if (!d.qrels.contains(id)) return;
        d.query_ids.push_back(std::move(id));
        d.query_texts.push_back(detail::field(j, "text", queries, n));
    });
    if (d.query_ids.empty())
        throw format_error(queries.string() + ": none of its queries is judged in " + qrels_path.string());
    return d;
}

// STS pairs from a JSON-lines file: {"sentence1", "sentence2", "score"} (MTEB's STS fields).
struct sts_pair {
    std::string first, second;
    double score = 0;
};

inline std::vector<sts_pair> load_sts(const std::filesystem::path& p) {
    std::vector<sts_pair> out;
    detail::for_each_json_line(p, [&](const nlohmann::json& j, std::size_t n) {
        const auto s = j.find("score");
        if (s == j.end() || !s->is_number())
            throw format_error(p.string() + ": line " + std::to_string(n) + " has no numeric \"score\"");
        out.push_back({detail::field(j, "sentence1", p, n), detail::field(j, "sentence2", p, n), s->get<double>()});
    });
    if (out.size() < 2) throw format_error(p.string() + ": needs at least 2 sentence pairs");
    return out;
}

// Per query, the top `n` documents by the dot product of the L2-normalised embeddings (= cosine),
// in trec order. queries: [Q, C]; docs: [D, C], both row-major.
inline std::vector<std::vector<scored_doc>> rank_by_cosine(std::span<const float> queries, std::span<const float> docs,
                                                           std::size_t C, std::span<const std::string> doc_ids,
                                                           std::size_t n) {
    const std::size_t Q = queries.size() / C, D = docs.size() / C;
    if (D != doc_ids.size()) throw invalid_argument("rank_by_cosine: document embeddings and ids differ in count");
    auto normalised = [C](std::span<const float> m) {
        std::vector<double> out(m.begin(), m.end());
        for (std::size_t r = 0; r < m.size() / C; ++r) {
            double s = 0;
            for (std::size_t c = 0; c < C; ++c) s += out[r * C + c] * out[r * C + c];
            const double inv = 1.0 / std::max(std::sqrt(s), 1e-12);
            for (std::size_t c = 0; c < C; ++c) out[r * C + c] *= inv;
        }
        return out;
    };
    const auto q = normalised(queries), d = normalised(docs);
    std::vector<std::vector<scored_doc>> runs(Q);
    std::vector<scored_doc> all(D);
    for (std::size_t i = 0; i < Q; ++i) {
        for (std::size_t j = 0; j < D; ++j) {
            double s = 0;
            for (std::size_t c = 0; c < C; ++c) s += q[i * C + c] * d[j * C + c];
            all[j] = {doc_ids[j], s};
        }
        trec_sort(all);
        runs[i].assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(std::min(n, D)));
    }
    return runs;
}

}  // namespace rwkv::embedding_rwkv::eval
