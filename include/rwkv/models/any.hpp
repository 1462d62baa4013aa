// rwkv/models/any.hpp — one run-time interface over every architecture and policy.
//
// For tools that learn the architecture from the file (the CLI, bindings). Type erasure happens
// once, at the model boundary: each virtual call runs a whole forward pass of a concrete
// model<Backend, Precision>, never an individual op.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/backends/reference.hpp"
#include "rwkv/core/architecture.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv4.hpp"
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "rwkv/models/workspace.hpp"

namespace rwkv {

struct open_options {
    std::string precision = "f32";        // f32 | bf16 | f16
    std::string backend = "reference";    // reference
    std::string goldfinch_config;         // optional official {"model": {...}} JSON (GoldFinch only)
    std::size_t max_context = 4096;       // GoldFinch: tokens of context cache reserved per state
};

struct model_summary {
    architecture arch{};
    std::size_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, head_size = 0, dim_ffn = 0;
};

class any_workspace {
public:
    virtual ~any_workspace() = default;
};

class any_model {
    struct concept_t {
        virtual ~concept_t() = default;
        virtual model_summary summary() const = 0;
        virtual state make_state() const = 0;
        virtual std::unique_ptr<any_workspace> make_workspace(std::size_t) const = 0;
        virtual void forward(std::span<const std::int32_t>, state&, any_workspace&, std::span<float>,
                             logits_mode) const = 0;
    };

    template <class Model>
    struct model_t final : concept_t {
        struct workspace_t final : any_workspace {
            decltype(std::declval<const Model&>().make_workspace(1)) ws;
            explicit workspace_t(decltype(ws) w) : ws(std::move(w)) {}
        };
        Model m;
        explicit model_t(Model&& model) : m(std::move(model)) {}
        model_summary summary() const override {
            const auto& c = m.cfg();
            const auto& l = m.layout();
            return {l.arch, c.n_vocab, c.n_embd, c.n_layer, l.n_head, l.head_size, c.dim_ffn};
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
    };

    std::unique_ptr<const concept_t> impl_;
    std::string source_;

    template <class Backend, class Precision>
    static std::unique_ptr<const concept_t> make(architecture arch, io::tensor_file file, const open_options& opt) {
        switch (arch) {
            case architecture::goldfinch: {
                goldfinch::options g;
                if (!opt.goldfinch_config.empty()) g = goldfinch::read_config(opt.goldfinch_config);
                g.max_context = opt.max_context;
                return std::make_unique<model_t<goldfinch::model<Backend, Precision>>>(
                    goldfinch::model<Backend, Precision>(std::move(file), g));
            }
            case architecture::rwkv4:
                return std::make_unique<model_t<rwkv4::model<Backend, Precision>>>(
                    rwkv4::model<Backend, Precision>(std::move(file)));
            case architecture::rwkv5:
                return std::make_unique<model_t<rwkv5::model<Backend, Precision>>>(
                    rwkv5::model<Backend, Precision>(std::move(file)));
            case architecture::rwkv6:
                return std::make_unique<model_t<rwkv6::model<Backend, Precision>>>(
                    rwkv6::model<Backend, Precision>(std::move(file)));
            case architecture::rwkv7:
                return std::make_unique<model_t<rwkv7::model<Backend, Precision>>>(
                    rwkv7::model<Backend, Precision>(std::move(file)));
            default:
                throw unsupported_error(file.display_name() + ": architecture " +
                                        std::string(architecture_name(arch)) + " is not supported by this build");
        }
    }

public:
    static constexpr std::string_view precisions[] = {"f32", "bf16", "f16"};
    static constexpr std::string_view backends_built[] = {"reference"};

    // Opens a checkpoint, detects its architecture (an unknown one is a model_error naming what was
    // found) and builds the concrete model for the requested backend and precision.
    static any_model open(const std::filesystem::path& path, const open_options& opt = {}) {
        if (opt.backend != "reference")
            throw invalid_argument("unknown backend '" + opt.backend + "' (built: reference)");
        auto file = io::tensor_file::open(path);
        const architecture arch = detect_architecture(file);
        if (!opt.goldfinch_config.empty() && arch != architecture::goldfinch)
            throw invalid_argument("a GoldFinch config was given, but " + file.display_name() + " is " +
                                   std::string(architecture_name(arch)));
        any_model m;
        m.source_ = file.display_name();
        if (opt.precision == "f32")
            m.impl_ = make<backends::reference, precision::f32>(arch, std::move(file), opt);
        else if (opt.precision == "bf16")
            m.impl_ = make<backends::reference, precision::bf16>(arch, std::move(file), opt);
        else if (opt.precision == "f16")
            m.impl_ = make<backends::reference, precision::f16>(arch, std::move(file), opt);
        else if (opt.precision == "int8" || opt.precision == "int4")
            throw unsupported_error("precision '" + opt.precision + "' is not available in this build (f32, bf16, f16)");
        else
            throw invalid_argument("unknown precision '" + opt.precision + "' (expected f32, bf16, f16, int8, int4)");
        return m;
    }

    model_summary summary() const { return impl_->summary(); }
    const std::string& source() const noexcept { return source_; }
    state make_state() const { return impl_->make_state(); }
    std::unique_ptr<any_workspace> make_workspace(std::size_t max_tokens = 64) const {
        return impl_->make_workspace(max_tokens);
    }
    void forward(std::span<const std::int32_t> tokens, state& st, any_workspace& ws, std::span<float> logits,
                 logits_mode mode = logits_mode::last) const {
        impl_->forward(tokens, st, ws, logits, mode);
    }
};

}  // namespace rwkv
