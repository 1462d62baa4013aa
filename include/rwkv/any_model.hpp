// rwkv/any_model.hpp — one run-time interface over every architecture and policy.
//
// For tools that learn the architecture from the file (the CLI, bindings). Type erasure happens
// once, at the model boundary: each virtual call runs a whole forward pass of a concrete
// model<Backend, Precision>, never an individual op.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/backends/reference.hpp"
#include "rwkv/core/architecture.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/tooling/convert.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv4.hpp"
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "rwkv/models/workspace.hpp"

namespace rwkv {

struct open_options {
    std::string precision = "f32";        // f32 | bf16 | f16 | int8 | int4 (block-quantized matrices)
    std::string backend = "cpu";          // cpu (SIMD, threads) | reference (plain loops, double sums)
    std::size_t threads = 1;              // cpu backend: threads of the model's pool (1 = caller only)
    std::string goldfinch_config;         // optional official {"model": {...}} JSON (GoldFinch only)
    std::size_t max_context = 4096;       // GoldFinch: tokens of context cache reserved per state
    std::string instruction_set;          // cpu backend: "" = the best this CPU runs; avx512 | avx2 | sse2 | portable
};

struct model_summary {
    architecture arch{};
    std::size_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, head_size = 0, dim_ffn = 0;
    std::size_t weight_bytes_per_token = 0;  // every tensor but the embedding table (recurrent_model)
    std::size_t matrix_elements = 0;         // every weight matrix, the head included
    std::size_t head_elements = 0;           // the head alone (0 without one)
    std::string backend, precision;          // what runs it, e.g. "cpu/avx512", "f32"
};

class any_workspace {
public:
    virtual ~any_workspace() = default;
    // Bytes of scratch it holds (its activations and per-agent arrays).
    virtual std::size_t bytes() const noexcept = 0;
};

class any_model {
    struct concept_t {
        virtual ~concept_t() = default;
        virtual model_summary summary() const = 0;
        virtual state make_state() const = 0;
        virtual std::unique_ptr<any_workspace> make_workspace(std::size_t) const = 0;
        virtual void forward(std::span<const std::int32_t>, state&, any_workspace&, std::span<float>,
                             logits_mode) const = 0;
        virtual void forward_batch(std::span<const std::int32_t>, std::span<const std::size_t>, std::span<state* const>,
                                   any_workspace&, std::span<float>, logits_mode) const = 0;
        virtual void save_converted(const std::filesystem::path&) const = 0;
    };

    template <class Model>
    struct model_t final : concept_t {
        struct workspace_t final : any_workspace {
            decltype(std::declval<const Model&>().make_workspace(1)) ws;
            explicit workspace_t(decltype(ws) w) : ws(std::move(w)) {}
            std::size_t bytes() const noexcept override { return workspace_bytes(ws); }
        };
        Model m;
        explicit model_t(Model&& model) : m(std::move(model)) {}
        model_summary summary() const override {
            const auto& c = m.cfg();
            const auto& l = m.layout();
            model_summary s{l.arch, c.n_vocab, c.n_embd, c.n_layer, l.n_head, l.head_size, c.dim_ffn,
                            m.weight_bytes_per_token(), m.matrix_elements(), m.io().head.rows * m.io().head.cols,
                            std::string(Model::backend_type::name), std::string(Model::precision_type::name)};
            if constexpr (requires { m.backend().instruction_set(); })
                s.backend += "/" + std::string(m.backend().instruction_set());
            return s;
        }
        state make_state() const override { return m.make_state(); }
        std::unique_ptr<any_workspace> make_workspace(std::size_t n) const override {
            return std::make_unique<workspace_t>(m.make_workspace(n));
        }
        void forward(std::span<const std::int32_t> tokens, state& st, any_workspace& ws, std::span<float> logits,
                     logits_mode mode) const override {
            auto* w = dynamic_cast<workspace_t*>(&ws);
            if (!w) throw invalid_argument("any_model::forward: workspace was made by another model");
            m.forward(tokens, st, w->ws, logits, mode);
        }
        void forward_batch(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                           std::span<state* const> states, any_workspace& ws, std::span<float> logits,
                           logits_mode mode) const override {
            auto* w = dynamic_cast<workspace_t*>(&ws);
            if (!w) throw invalid_argument("any_model::forward_batch: workspace was made by another model");
            m.forward_batch(tokens, lengths, states, w->ws, logits, mode);
        }
        void save_converted(const std::filesystem::path& p) const override { rwkv::save_converted(m, p); }
    };

    std::unique_ptr<const concept_t> impl_;
    std::string source_;

    template <class Backend, class Precision>
    static std::unique_ptr<const concept_t> make(architecture arch, io::tensor_file file, const open_options& opt,
                                                 const Backend& be) {
        switch (arch) {
            case architecture::goldfinch: {
                goldfinch::options g;
                // An explicit config file wins; else the one `rwkv-cli init` stores in the metadata.
                if (!opt.goldfinch_config.empty())
                    g = goldfinch::read_config(opt.goldfinch_config);
                else if (const auto it = file.metadata().find("config"); it != file.metadata().end())
                    g = goldfinch::parse_config(it->second, file.display_name() + " (metadata 'config')");
                g.max_context = opt.max_context;
                return std::make_unique<model_t<goldfinch::model<Backend, Precision>>>(
                    goldfinch::model<Backend, Precision>(std::move(file), g, be));
            }
            case architecture::rwkv4:
                return std::make_unique<model_t<rwkv4::model<Backend, Precision>>>(
                    rwkv4::model<Backend, Precision>(std::move(file), be));
            case architecture::rwkv5:
                return std::make_unique<model_t<rwkv5::model<Backend, Precision>>>(
                    rwkv5::model<Backend, Precision>(std::move(file), be));
            case architecture::rwkv6:
                return std::make_unique<model_t<rwkv6::model<Backend, Precision>>>(
                    rwkv6::model<Backend, Precision>(std::move(file), be));
            case architecture::rwkv7:
                return std::make_unique<model_t<rwkv7::model<Backend, Precision>>>(
                    rwkv7::model<Backend, Precision>(std::move(file), be));
            default:
                throw unsupported_error(file.display_name() + ": architecture " +
                                        std::string(architecture_name(arch)) + " is not supported by this build");
        }
    }

    template <class Backend>
    static std::unique_ptr<const concept_t> with_precision(const std::string& p, architecture arch, io::tensor_file file,
                                                           const open_options& opt, const Backend& be) {
        if (p == "bf16") return make<Backend, precision::bf16>(arch, std::move(file), opt, be);
        if (p == "f16") return make<Backend, precision::f16>(arch, std::move(file), opt, be);
        if (p == "int8") return make<Backend, precision::int8>(arch, std::move(file), opt, be);
        if (p == "int4") return make<Backend, precision::int4>(arch, std::move(file), opt, be);
        return make<Backend, precision::f32>(arch, std::move(file), opt, be);
    }

public:
    static constexpr std::string_view precisions[] = {"f32", "bf16", "f16", "int8", "int4"};
    static constexpr std::string_view backends_built[] = {"cpu", "reference"};

    // Opens a checkpoint, detects its architecture (an unknown one is a model_error naming what was
    // found) and builds the concrete model for the requested backend and precision.
    static any_model open(const std::filesystem::path& path, const open_options& opt = {}) {
        if (opt.backend != "cpu" && opt.backend != "reference")
            throw invalid_argument("unknown backend '" + opt.backend + "' (built: cpu, reference)");
        if (opt.threads == 0) throw invalid_argument("threads must be at least 1");
        if (std::find(std::begin(precisions), std::end(precisions), opt.precision) == std::end(precisions))
            throw invalid_argument("unknown precision '" + opt.precision + "' (expected f32, bf16, f16, int8, int4)");
        auto file = io::tensor_file::open(path);
        const architecture arch = detect_architecture(file);
        if (!opt.goldfinch_config.empty() && arch != architecture::goldfinch)
            throw invalid_argument("a GoldFinch config was given, but " + file.display_name() + " is " +
                                   std::string(architecture_name(arch)));
        any_model m;
        m.source_ = file.display_name();
        if (opt.backend == "cpu")
            m.impl_ = with_precision(opt.precision, arch, std::move(file), opt,
                                     opt.instruction_set.empty()
                                         ? backends::cpu(opt.threads)
                                         : backends::cpu(opt.threads, cpu::parse_isa(opt.instruction_set)));
        else
            m.impl_ = with_precision(opt.precision, arch, std::move(file), opt, backends::reference{});
        return m;
    }

    model_summary summary() const { return impl_->summary(); }
    // Writes the model as its precision keeps it, to a file that loads with no work (tooling/convert.hpp).
    void save_converted(const std::filesystem::path& path) const { impl_->save_converted(path); }
    const std::string& source() const noexcept { return source_; }
    state make_state() const { return impl_->make_state(); }
    std::unique_ptr<any_workspace> make_workspace(std::size_t max_tokens = 64) const {
        return impl_->make_workspace(max_tokens);
    }
    void forward(std::span<const std::int32_t> tokens, state& st, any_workspace& ws, std::span<float> logits,
                 logits_mode mode = logits_mode::last) const {
        impl_->forward(tokens, st, ws, logits, mode);
    }
    // Many agents in one call (recurrent_model::forward_batch): agent g consumes lengths[g] tokens
    // (lengths empty: one each); logits row g is its last token's.
    void forward_batch(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                       std::span<state* const> states, any_workspace& ws, std::span<float> logits,
                       logits_mode mode = logits_mode::last) const {
        impl_->forward_batch(tokens, lengths, states, ws, logits, mode);
    }
};

}  // namespace rwkv
