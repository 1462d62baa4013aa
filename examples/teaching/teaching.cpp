// One token through one block of each architecture, step by step (teaching/README.md).
//
//   rwkv-example-teaching [--arch v4|v5|v6|v7|goldfinch|all] [--golden DIR]
//
// The program does not restate any block's math: it runs the library's own forward pass on a
// backend that watches it. `tracing` is the reference backend plus the op observer of
// ops/observe.hpp; every op front-end reports, after its kernel ran, its name, the model line that
// called it (a defaulted source location) and the view it wrote. For the first token of the golden
// *.tokens.json this program keeps the ops of block 0 and prints for each the file:line, the code
// there, the comment above it in our source tree (the model files put each op's equation there) and
// a short view of the output. Last, it checks that the traced run's logits equal those of the
// ordinary reference backend bit for bit: watching does not change the arithmetic.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/goldfinch.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/rwkv4.hpp"
#include "rwkv/rwkv5.hpp"
#include "rwkv/rwkv6.hpp"
#include "rwkv/rwkv7.hpp"

#ifndef RWKV_SOURCE_DIR
#define RWKV_SOURCE_DIR "."
#endif
#ifndef RWKV_GOLDEN_DIR
#define RWKV_GOLDEN_DIR "../shared/golden"
#endif

namespace fs = std::filesystem;

// ---- the observing backend ----

// One op as the observer saw it: what ran, where it was called, and a short view of its output.
struct step {
    std::string op;
    std::string file;  // as the compiler spelled it
    unsigned line = 0;
    std::size_t rows = 0, cols = 0;
    std::vector<float> first;  // the first few values of row 0
    double norm = 0.0;         // Euclidean norm of the whole output
};

struct trace {
    int depth = 0;  // nesting of op_enter/op_exit: composite ops call other ops
    std::vector<step> steps;
};

// The reference backend, watched. Backends are passed around by const reference, so the record
// lives outside it.
struct tracing : rwkv::backends::reference {
    static constexpr std::string_view name = "tracing";
    trace* record = nullptr;

    void op_enter() const { ++record->depth; }

    // Keeps the outermost op only: a composite (lora, ddlerp, channel_mix, layer_norm, …) is one
    // step at its call site, not the ops it is made of.
    void op_exit(std::string_view op, const rwkv::ops::op_site& where,
                 const rwkv::const_matrix_view<float>& out) const {
        if (--record->depth > 0) return;
        step s{std::string(op), where.file_name(), static_cast<unsigned>(where.line()), out.rows, out.cols, {}, 0.0};
        for (std::size_t c = 0; c < out.cols && c < 4 && out.rows > 0; ++c) s.first.push_back(out(0, c));
        for (std::size_t t = 0; t < out.rows; ++t)
            for (std::size_t c = 0; c < out.cols; ++c) s.norm += static_cast<double>(out(t, c)) * out(t, c);
        s.norm = std::sqrt(s.norm);
        record->steps.push_back(std::move(s));
    }
};

// Every kernel is the reference one (as examples/custom_backend.cpp takes the ones it does not replace).
namespace rwkv::ops {
template <class W> struct linear_kernel<tracing, W> : linear_kernel<backends::reference, W> {};
template <> struct map_kernel<tracing> : map_kernel<backends::reference> {};
template <> struct norm_kernel<tracing> : norm_kernel<backends::reference> {};
template <> struct embedding_kernel<tracing> : embedding_kernel<backends::reference> {};
template <> struct token_shift_kernel<tracing> : token_shift_kernel<backends::reference> {};
template <> struct wkv4_kernel<tracing> : wkv4_kernel<backends::reference> {};
template <std::size_t N> struct wkv6_kernel<tracing, N> : wkv6_kernel<backends::reference, N> {};
template <std::size_t N> struct wkv7_kernel<tracing, N> : wkv7_kernel<backends::reference, N> {};
template <> struct wkv7_bonus_kernel<tracing> : wkv7_bonus_kernel<backends::reference> {};
template <std::size_t N> struct gold_attention_kernel<tracing, N> : gold_attention_kernel<backends::reference, N> {};
template <> struct cache_kernel<tracing> : cache_kernel<backends::reference> {};
}  // namespace rwkv::ops

// ---- reading our own source ----

// The part of a compiler-spelled path from "rwkv/" on (the path below include/).
std::string below_include(const std::string& file) {
    const auto at = file.rfind("include/rwkv/");
    return at == std::string::npos ? file : file.substr(at + std::strlen("include/"));
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    return std::string(s.substr(b, s.find_last_not_of(" \t") - b + 1));
}

struct source_file {
    bool readable = false;
    std::vector<std::string> lines;
};

const source_file& read_source(const std::string& relative) {
    static std::map<std::string, source_file> cache;
    auto [it, inserted] = cache.try_emplace(relative);
    if (inserted) {
        std::ifstream in(fs::path(RWKV_SOURCE_DIR) / "include" / relative);
        for (std::string line; std::getline(in, line);) it->second.lines.push_back(line);
        it->second.readable = !it->second.lines.empty();
    }
    return it->second;
}

// The equation of the op called at `line` (1-based): the comment block that heads the paragraph
// holding that line. Walks up over the paragraph's code (ops grouped under one comment) to the
// nearest comment lines; a blank line first means there is none. A comment at the end of the
// call's own line comes along too.
std::vector<std::string> equation_above(const source_file& src, unsigned line) {
    std::vector<std::string> eq;
    if (line == 0 || line > src.lines.size()) return eq;
    std::size_t i = line - 1;  // 0-based index of the call
    while (i > 0) {
        const std::string above = trim(src.lines[i - 1]);
        if (above.empty()) break;
        if (above.starts_with("//")) {
            std::size_t first = i - 1;
            while (first > 0 && trim(src.lines[first - 1]).starts_with("//")) --first;
            for (std::size_t j = first; j < i; ++j) eq.push_back(trim(trim(src.lines[j]).substr(2)));
            break;
        }
        --i;
    }
    const std::string& call = src.lines[line - 1];
    if (const auto c = call.find("// "); c != std::string::npos) eq.push_back(trim(call.substr(c + 3)));
    return eq;
}

// ---- one architecture ----

struct section_args {
    std::string title;       // "RWKV-7"
    std::string arch;        // "v7"
    fs::path model, tokens;  // golden checkpoint and its token list
    fs::path config;         // GoldFinch only
};

std::int32_t first_token(const fs::path& tokens_json) {
    std::ifstream in(tokens_json);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = text.find('[');
    if (open == std::string::npos)
        throw rwkv::format_error(tokens_json.string() + ": expected a JSON list of token ids");
    return static_cast<std::int32_t>(std::strtol(text.c_str() + open + 1, nullptr, 10));
}

template <class Model>
std::vector<float> run_one(const Model& m, std::int32_t token) {
    auto st = m.make_state();
    const std::int32_t tokens[1] = {token};
    return m.forward(std::span<const std::int32_t>(tokens), st);
}

// Block 0 of a forward pass: the ops after the embedding, up to the point where block 1 begins, i.e.
// where the call site of block 0's first op comes round again. (Not "the first site seen twice":
// the channel mix calls its lerp twice from one line.) The embedding itself is kept as step 0.
std::vector<step> block_zero(const std::vector<step>& all) {
    std::vector<step> out;
    std::size_t i = 0;
    while (i < all.size() && all[i].op != "embedding") ++i;
    if (i == all.size()) return out;
    out.push_back(all[i++]);
    for (std::size_t j = i; j < all.size(); ++j) {
        if (j > i && all[j].file == all[i].file && all[j].line == all[i].line) break;
        out.push_back(all[j]);
    }
    return out;
}

void print_step(std::size_t n, const step& s) {
    const std::string where = below_include(s.file);
    std::printf("\n[%zu] %-19s %s:%u\n", n, s.op.c_str(), where.c_str(), s.line);
    const source_file& src = read_source(where);
    if (!src.readable) {
        std::printf("    (source not readable under %s/include)\n", RWKV_SOURCE_DIR);
    } else {
        if (s.line >= 1 && s.line <= src.lines.size())
            std::printf("    code: %s\n", trim(src.lines[s.line - 1]).c_str());
        const auto eq = equation_above(src, s.line);
        if (eq.empty()) std::printf("    eq:   (no comment above this line)\n");
        for (std::size_t i = 0; i < eq.size(); ++i)
            std::printf("    %s %s\n", i == 0 ? "eq:  " : "     ", eq[i].c_str());
    }
    std::printf("    out:  [%zu x %zu]", s.rows, s.cols);
    for (float v : s.first) std::printf(" %+.5f", static_cast<double>(v));
    std::printf("%s  |out| = %.5f\n", s.cols > s.first.size() ? " ..." : "", s.norm);
}

template <class Traced, class Plain>
bool section(const section_args& a, const Traced& traced, trace& record, const Plain& plain) {
    const std::int32_t token = first_token(a.tokens);
    std::printf("\n==== %s (%s): block 0, token %d ====\n", a.title.c_str(), a.model.filename().string().c_str(),
                token);
    record.steps.clear();
    const std::vector<float> logits = run_one(traced, token);
    const std::vector<step> steps = block_zero(record.steps);
    for (std::size_t i = 0; i < steps.size(); ++i) print_step(i, steps[i]);

    const std::vector<float> expected = run_one(plain, token);
    const bool same = logits.size() == expected.size() &&
                      std::memcmp(logits.data(), expected.data(), logits.size() * sizeof(float)) == 0;
    std::printf("\n%s: %zu traced steps in block 0 (of %zu ops in the whole pass); logits of the traced run %s "
                "the reference backend's bit for bit (%zu values)\n",
                a.title.c_str(), steps.size(), record.steps.size(), same ? "EQUAL" : "DIFFER FROM", logits.size());
    return same;
}

bool run_arch(const section_args& a) {
    trace record;
    tracing be;
    be.record = &record;
    using rwkv::backends::reference;
    if (a.arch == "v4")
        return section(a, rwkv::rwkv4::model<tracing>::load(a.model, be), record,
                       rwkv::rwkv4::model<reference>::load(a.model));
    if (a.arch == "v5")
        return section(a, rwkv::rwkv5::model<tracing>::load(a.model, be), record,
                       rwkv::rwkv5::model<reference>::load(a.model));
    if (a.arch == "v6")
        return section(a, rwkv::rwkv6::model<tracing>::load(a.model, be), record,
                       rwkv::rwkv6::model<reference>::load(a.model));
    if (a.arch == "v7")
        return section(a, rwkv::rwkv7::model<tracing>::load(a.model, be), record,
                       rwkv::rwkv7::model<reference>::load(a.model));
    const auto opt = rwkv::goldfinch::read_config(a.config);
    return section(a, rwkv::goldfinch::model<tracing>::load(a.model, opt, be), record,
                   rwkv::goldfinch::model<reference>::load(a.model, opt));
}

int main(int argc, char** argv) {
    std::string arch = "all";
    fs::path golden = RWKV_GOLDEN_DIR;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--arch" && i + 1 < argc) {
            arch = argv[++i];
            continue;
        }
        if (arg == "--golden" && i + 1 < argc) {
            golden = argv[++i];
            continue;
        }
        std::fprintf(stderr, "usage: %s [--arch v4|v5|v6|v7|goldfinch|all] [--golden DIR]\n", argv[0]);
        return 2;
    }
    const std::vector<section_args> all{
        {"RWKV-4", "v4", golden / "v4-c128-l2.pth", golden / "v4-c128-l2.tokens.json", {}},
        {"RWKV-5.2", "v5", golden / "v5-c128-l2.pth", golden / "v5-c128-l2.tokens.json", {}},
        {"RWKV-6", "v6", golden / "v6-c128-l2.pth", golden / "v6-c128-l2.tokens.json", {}},
        {"RWKV-7", "v7", golden / "v7-c128-l2.pth", golden / "v7-c128-l2.tokens.json", {}},
        {"GoldFinch", "goldfinch", golden / "goldfinch-c128-l3.pth", golden / "goldfinch-c128-l3.tokens.json",
         golden / "goldfinch-c128-l3.config.json"},
    };
    std::vector<section_args> chosen;
    for (const auto& a : all)
        if (arch == "all" || arch == a.arch) chosen.push_back(a);
    if (chosen.empty()) {
        std::fprintf(stderr, "unknown --arch '%s' (v4, v5, v6, v7, goldfinch or all)\n", arch.c_str());
        return 2;
    }
    for (const auto& a : chosen)
        for (const fs::path& f : {a.model, a.tokens, a.config})
            if (!f.empty() && !fs::exists(f)) {
                std::printf("SKIPPED: %s is absent (the golden models beside the project)\n", f.string().c_str());
                return 0;
            }
    try {
        bool ok = true;
        for (const auto& a : chosen) ok = run_arch(a) && ok;
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
