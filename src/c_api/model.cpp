// src/c_api/model.cpp — loading a model (options, the implied tokenizer) and describing it.
#include <algorithm>
#include <iterator>
#include <thread>

#include "boundary.hpp"
#include "handles.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/text/gguf_vocabulary.hpp"

namespace {

const char* precision_name(const rwkv_precision& p) {
    static const char* const names[] = {"f32", "bf16", "f16", "int8", "int4"};  // by rwkv_precision
    const auto v = static_cast<long long>(rwkv_c::enum_value(p));
    if (v < 0 || static_cast<std::size_t>(v) >= std::size(names))
        throw rwkv::invalid_argument("rwkv_model_load: options->precision " + std::to_string(v) +
                                     " is not an rwkv_precision");
    return names[static_cast<std::size_t>(v)];
}

const char* backend_name(const rwkv_backend& b) {
    static const char* const names[] = {"cpu", "reference"};  // by rwkv_backend
    const auto v = static_cast<long long>(rwkv_c::enum_value(b));
    if (v < 0 || static_cast<std::size_t>(v) >= std::size(names))
        throw rwkv::invalid_argument("rwkv_model_load: options->backend " + std::to_string(v) +
                                     " is not an rwkv_backend");
    return names[static_cast<std::size_t>(v)];
}

// The tokenizer a model implies without a vocabulary file, as rwkv-cli chooses it: the metadata
// says "bytes", a llama.cpp GGUF carries its World vocabulary, or a 256-token vocabulary is bytes.
void find_implied_tokenizer(rwkv_model& m, const char* path) {
    using rwkv::text::any_tokenizer;
    const auto file = rwkv::io::tensor_file::open(path);
    const auto& md = file.metadata();
    if (const auto it = md.find("tokenizer"); it != md.end() && it->second == "bytes") {
        m.implied_tokenizer = std::make_shared<const any_tokenizer>(rwkv::text::byte_tokenizer{});
        return;
    }
    if (auto world = rwkv::text::world_tokenizer_from_gguf_metadata(md, file.display_name())) {
        m.implied_tokenizer = std::make_shared<const any_tokenizer>(std::move(*world));
        return;
    }
    if (m.summary.n_vocab == 256) {
        m.implied_tokenizer = std::make_shared<const any_tokenizer>(rwkv::text::byte_tokenizer{});
        return;
    }
    m.no_tokenizer_reason = file.display_name() +
                            " names no tokenizer: load the World vocabulary (rwkv_vocab_v20230424.txt) or its "
                            "tokenizer.json with rwkv_tokenizer_load";
}

}  // namespace

extern "C" {

void rwkv_model_options_init(rwkv_model_options* options) {
    if (!options) return;
    options->precision = RWKV_PRECISION_F32;
    options->backend = RWKV_BACKEND_CPU;
    options->n_threads = 0;
    options->max_context = 0;
    options->goldfinch_config = nullptr;
}

rwkv_status rwkv_model_load(const char* path, const rwkv_model_options* options, rwkv_model** out) {
    if (out) *out = nullptr;
    return rwkv_c::guarded([&] {
        rwkv_c::require(out != nullptr, "rwkv_model_load", "out is NULL");
        rwkv_c::require(path != nullptr, "rwkv_model_load", "path is NULL");
        rwkv_model_options o;
        rwkv_model_options_init(&o);
        if (options) o = *options;
        rwkv::open_options opt;
        opt.precision = precision_name(o.precision);
        opt.backend = backend_name(o.backend);
        opt.threads = o.n_threads != 0 ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
        if (o.max_context != 0) opt.max_context = o.max_context;
        if (o.goldfinch_config) opt.goldfinch_config = o.goldfinch_config;

        auto m = std::make_unique<rwkv_model>();
        m->net = rwkv::any_model::open(path, opt);
        m->summary = m->net.summary();
        m->arch_name = std::string(rwkv::architecture_name(m->summary.arch));
        m->initial = m->net.make_state();
        find_implied_tokenizer(*m, path);
        *out = m.release();
        return RWKV_OK;
    });
}

void rwkv_model_free(rwkv_model* model) { delete model; }

rwkv_status rwkv_model_get_info(const rwkv_model* model, rwkv_model_info* out) {
    return rwkv_c::guarded([&] {
        const auto& m = rwkv_c::deref(model, "rwkv_model_get_info", "model");
        rwkv_c::require(out != nullptr, "rwkv_model_get_info", "out is NULL");
        const auto& s = m.summary;
        out->architecture = m.arch_name.c_str();
        out->backend = s.backend.c_str();
        out->precision = s.precision.c_str();
        out->n_vocab = s.n_vocab;
        out->n_embd = s.n_embd;
        out->n_layer = s.n_layer;
        out->n_head = s.n_head;
        out->head_size = s.head_size;
        out->state_len = m.layout().total;
        out->logits_len = s.n_vocab;
        out->has_context_cache = m.has_cache() ? 1 : 0;
        return RWKV_OK;
    });
}

size_t rwkv_get_state_len(const rwkv_model* model) {
    return model && model->initial.layout_ptr() ? model->initial.layout_ptr()->total : 0;
}

size_t rwkv_get_logits_len(const rwkv_model* model) { return model ? model->summary.n_vocab : 0; }

}  // extern "C"
