// rwkv/any_model/open.hpp — how any_model::open builds a concrete model: the file's architecture and
// the requested backend and precision pick one model<Backend, Precision>, wrapped once in a
// detail::erased_model.
//
// Header-only builds get this through rwkv/any_model.hpp. The compiled library rwkv::any_model
// (src/any_model/) instantiates open_erased<Backend, Arch> once per backend × architecture, one per
// translation unit, and users' TUs then see only the declarations in rwkv/any_model.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "rwkv/any_model.hpp"
#include "rwkv/backends/cpu.hpp"
#include "rwkv/backends/reference.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv4.hpp"
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "rwkv/tooling/convert.hpp"

namespace rwkv::detail {

template <class Model>
class erased_model final : public any_model_concept {
    struct workspace_t final : any_workspace {
        decltype(std::declval<const Model&>().make_workspace(1)) ws;
        explicit workspace_t(decltype(ws) w) : ws(std::move(w)) {}
        std::size_t bytes() const noexcept override { return workspace_bytes(ws); }
    };
    Model m;

    static workspace_t& own(any_workspace& ws, const char* call) {
        auto* w = dynamic_cast<workspace_t*>(&ws);
        if (!w) throw invalid_argument(std::string("any_model::") + call + ": workspace was made by another model");
        return *w;
    }

public:
    explicit erased_model(Model&& model) : m(std::move(model)) {}

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
        m.forward(tokens, st, own(ws, "forward").ws, logits, mode);
    }
    void forward_batch(std::span<const std::int32_t> tokens, std::span<const std::size_t> lengths,
                       std::span<state* const> states, any_workspace& ws, std::span<float> logits,
                       logits_mode mode) const override {
        m.forward_batch(tokens, lengths, states, own(ws, "forward_batch").ws, logits, mode);
    }
    void save_converted(const std::filesystem::path& p) const override { rwkv::save_converted(m, p); }
};

// One architecture at one precision on one backend.
template <class Backend, architecture Arch, class Precision>
std::unique_ptr<const any_model_concept> make_erased(io::tensor_file file, const open_options& opt,
                                                     const Backend& be) {
    auto erase = [](auto&& model) -> std::unique_ptr<const any_model_concept> {
        using model_type = std::remove_cvref_t<decltype(model)>;
        return std::make_unique<erased_model<model_type>>(std::move(model));
    };
    if constexpr (Arch == architecture::goldfinch) {
        goldfinch::options g;
        // An explicit config file wins; else the one `rwkv-cli init` stores in the metadata.
        if (!opt.goldfinch_config.empty())
            g = goldfinch::read_config(opt.goldfinch_config);
        else if (const auto it = file.metadata().find("config"); it != file.metadata().end())
            g = goldfinch::parse_config(it->second, file.display_name() + " (metadata 'config')");
        g.max_context = opt.max_context;
        return erase(goldfinch::model<Backend, Precision>(std::move(file), g, be));
    } else if constexpr (Arch == architecture::rwkv4) {
        return erase(rwkv4::model<Backend, Precision>(std::move(file), be));
    } else if constexpr (Arch == architecture::rwkv5) {
        return erase(rwkv5::model<Backend, Precision>(std::move(file), be));
    } else if constexpr (Arch == architecture::rwkv6) {
        return erase(rwkv6::model<Backend, Precision>(std::move(file), be));
    } else {
        static_assert(Arch == architecture::rwkv7, "any_model: no model for this architecture");
        return erase(rwkv7::model<Backend, Precision>(std::move(file), be));
    }
}

// One architecture on one backend, at the precision named (checked by any_model::open). The unit the
// compiled library instantiates, one translation unit each.
template <class Backend, architecture Arch>
std::unique_ptr<const any_model_concept> open_erased(const std::string& precision, io::tensor_file file,
                                                     const open_options& opt, const Backend& be) {
    if (precision == "bf16") return make_erased<Backend, Arch, precision::bf16>(std::move(file), opt, be);
    if (precision == "f16") return make_erased<Backend, Arch, precision::f16>(std::move(file), opt, be);
    if (precision == "int8") return make_erased<Backend, Arch, precision::int8>(std::move(file), opt, be);
    if (precision == "int4") return make_erased<Backend, Arch, precision::int4>(std::move(file), opt, be);
    return make_erased<Backend, Arch, precision::f32>(std::move(file), opt, be);
}

// The backends × architectures any_model builds; RWKV_ANY_MODEL_EACH(X) expands X(backend, arch)
// for each (src/any_model/ has one translation unit per line).
#define RWKV_ANY_MODEL_EACH(X)                                                                      \
    X(backends::cpu, goldfinch) X(backends::cpu, rwkv4) X(backends::cpu, rwkv5) X(backends::cpu, rwkv6) \
    X(backends::cpu, rwkv7) X(backends::reference, goldfinch) X(backends::reference, rwkv4)             \
    X(backends::reference, rwkv5) X(backends::reference, rwkv6) X(backends::reference, rwkv7)

#define RWKV_ANY_MODEL_OPEN_ERASED(Backend, Arch)                                                         \
    template std::unique_ptr<const any_model_concept> open_erased<Backend, architecture::Arch>(          \
        const std::string&, io::tensor_file, const open_options&, const Backend&);

#ifdef RWKV_ANY_MODEL_COMPILED
// Instantiated in the library's own translation units, never implicitly in a user's.
#define RWKV_ANY_MODEL_EXTERN(Backend, Arch) extern RWKV_ANY_MODEL_OPEN_ERASED(Backend, Arch)
RWKV_ANY_MODEL_EACH(RWKV_ANY_MODEL_EXTERN)
#undef RWKV_ANY_MODEL_EXTERN
#endif

template <class Backend>
std::unique_ptr<const any_model_concept> open_on(architecture arch, const std::string& precision,
                                                 io::tensor_file file, const open_options& opt, const Backend& be) {
    switch (arch) {
        case architecture::goldfinch: return open_erased<Backend, architecture::goldfinch>(precision, std::move(file), opt, be);
        case architecture::rwkv4: return open_erased<Backend, architecture::rwkv4>(precision, std::move(file), opt, be);
        case architecture::rwkv5: return open_erased<Backend, architecture::rwkv5>(precision, std::move(file), opt, be);
        case architecture::rwkv6: return open_erased<Backend, architecture::rwkv6>(precision, std::move(file), opt, be);
        case architecture::rwkv7: return open_erased<Backend, architecture::rwkv7>(precision, std::move(file), opt, be);
        default:
            throw unsupported_error(file.display_name() + ": architecture " + std::string(architecture_name(arch)) +
                                    " is not supported by this build");
    }
}

}  // namespace rwkv::detail

namespace rwkv {

// Header-only: inline here. Compiled: defined once, in src/any_model/open.cpp.
#if !defined(RWKV_ANY_MODEL_COMPILED) || defined(RWKV_ANY_MODEL_DEFINE_OPEN)
#ifdef RWKV_ANY_MODEL_COMPILED
#define RWKV_ANY_MODEL_INLINE
#else
#define RWKV_ANY_MODEL_INLINE inline
#endif
RWKV_ANY_MODEL_INLINE any_model any_model::open(const std::filesystem::path& path, const open_options& opt) {
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
        m.impl_ = detail::open_on(arch, opt.precision, std::move(file), opt,
                                  opt.instruction_set.empty()
                                      ? backends::cpu(opt.threads)
                                      : backends::cpu(opt.threads, cpu::parse_isa(opt.instruction_set)));
    else
        m.impl_ = detail::open_on(arch, opt.precision, std::move(file), opt, backends::reference{});
    return m;
}
#undef RWKV_ANY_MODEL_INLINE
#endif

}  // namespace rwkv
