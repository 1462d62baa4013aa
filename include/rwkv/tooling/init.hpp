// rwkv/tooling/init.hpp — random-weight checkpoints of every architecture, at any shape.
//
//   rwkv::init_options o{.arch = rwkv::architecture::rwkv6, .n_vocab = 65536, .n_embd = 768, .n_layer = 12};
//   auto tensors = rwkv::random_weights(o);          // official names and shapes, f32
//   rwkv::io::write_safetensors(path, …, rwkv::init_metadata(o));
//
// For demos, tests and benchmarks that need no download: any_model::open detects and loads the
// result, and a forward pass gives finite logits of std ≈ 2.5 (magnitudes: init_common.hpp).
// The same options give the same bytes on every platform. docs/architectures/init.md lists what
// each architecture's file holds.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "rwkv/core/architecture.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/ops/head_size.hpp"
#include "rwkv/tooling/goldfinch_init.hpp"
#include "rwkv/tooling/init_common.hpp"
#include "rwkv/tooling/rwkv4_init.hpp"
#include "rwkv/tooling/rwkv5_init.hpp"
#include "rwkv/tooling/rwkv6_init.hpp"
#include "rwkv/tooling/rwkv7_init.hpp"

namespace rwkv {

// Upper bound of every size option: far above any released model, and small enough that no
// element count overflows.
inline constexpr std::size_t init_max_size = std::size_t{1} << 20;

// Throws invalid_argument naming the first bad option.
inline void validate_init_options(const init_options& o) {
    const std::string what = "init " + std::string(architecture_name(o.arch)) + ": ";
    for (auto [name, v] : {std::pair{"n_vocab", o.n_vocab}, {"n_embd", o.n_embd}, {"n_layer", o.n_layer}})
        if (v == 0 || v > init_max_size)
            throw invalid_argument(what + name + " must be between 1 and " + std::to_string(init_max_size) + " (got " +
                                   std::to_string(v) + ")");
    if (o.dim_ffn > 4 * init_max_size)
        throw invalid_argument(what + "dim_ffn must be at most " + std::to_string(4 * init_max_size) + " (got " +
                               std::to_string(o.dim_ffn) + ")");
    if (o.g1_layout && o.arch != architecture::rwkv7)
        throw invalid_argument(what + "the G1 layout exists for RWKV-7 only");
    if (o.arch != architecture::rwkv4) {  // RWKV-4 has no heads
        if (std::ranges::find(ops::supported_head_sizes, o.head_size) == ops::supported_head_sizes.end())
            throw invalid_argument(what + "head_size must be one the model code runs: 32, 64 or 128 (got " +
                                   std::to_string(o.head_size) + ")");
        if (o.n_embd % o.head_size != 0)
            throw invalid_argument(what + "n_embd " + std::to_string(o.n_embd) + " is not a multiple of head_size " +
                                   std::to_string(o.head_size));
    }
    if (o.arch == architecture::goldfinch && o.head_size != goldfinch::init_head_size)
        throw invalid_argument(what + "GoldFinch is written with head_size " +
                               std::to_string(goldfinch::init_head_size) +
                               " only (the released value, which its loader assumes without a config); got " +
                               std::to_string(o.head_size));
    if (o.arch == architecture::goldfinch && goldfinch::init_finch_c2_layers(o.n_layer) == 0)
        throw invalid_argument(what + "GoldFinch needs n_layer ≥ 2 (Finch-C2 blocks under GOLD blocks, ratio " +
                               std::to_string(goldfinch::init_layer_ratio) + "); got " + std::to_string(o.n_layer));
}

// The model's tensors in the official names, shapes and order of o.arch (validated first).
inline std::vector<named_tensor> random_weights(const init_options& o) {
    validate_init_options(o);
    switch (o.arch) {
        case architecture::rwkv4: return rwkv4::random_weights(o);
        case architecture::rwkv5: return rwkv5::random_weights(o);
        case architecture::rwkv6: return rwkv6::random_weights(o);
        case architecture::rwkv7:
            return rwkv7::random_weights(
                {o.n_vocab, o.n_embd, o.n_layer, o.head_size, o.dim_ffn, o.seed, o.g1_layout});
        case architecture::goldfinch: return goldfinch::random_weights(o);
    }
    throw unsupported_error("init: unknown architecture");
}

// The safetensors __metadata__ of a random_weights(o) file, in the goldens' keys.
inline std::map<std::string, std::string> init_metadata(const init_options& o) {
    std::map<std::string, std::string> md{{"format", "pt"},
                                          {"architecture", std::string(architecture_name(o.arch))},
                                          {"n_embd", std::to_string(o.n_embd)},
                                          {"n_layer", std::to_string(o.n_layer)},
                                          {"vocab_size", std::to_string(o.n_vocab)},
                                          {"seed", std::to_string(o.seed)},
                                          {"note", "random weights made by rwkv::random_weights"}};
    switch (o.arch) {
        case architecture::rwkv4: md["rwkv_version"] = "4"; break;
        case architecture::rwkv5: md["rwkv_version"] = "5.2"; break;
        case architecture::rwkv6: md["rwkv_version"] = "6"; break;
        case architecture::rwkv7: md["rwkv_version"] = "7"; break;
        case architecture::goldfinch: md["model"] = "GoldFinch (tmix=x060c2, tmix2=gold)"; break;
    }
    if (o.arch != architecture::rwkv4) md["head_size"] = std::to_string(o.head_size);
    if (o.arch == architecture::goldfinch) {
        md["inv_other_layer_ratio"] = std::to_string(goldfinch::init_layer_ratio);
        md["kv_cache_compression_ratio"] = std::to_string(goldfinch::init_compression_ratio);
        md["config"] = goldfinch::config_json(o).dump();  // the official {"model": {...}} (docs/contracts.md)
    }
    return md;
}

}  // namespace rwkv
