// rwkv/models/detect.hpp — which architecture a checkpoint holds, from its tensor names alone.
//
// Order-independent version of the official detection (docs/spec/rwkv.md §1.4, "recommended logic"):
//   blocks.0.att.k_k / r_k / x_r           → RWKV-7
//   blocks.0.att.time_maa_x                → RWKV-6, or GoldFinch when w_kv_cache_a / time_value2 exist
//   blocks.0.att.ln_x.weight               → RWKV-5.x
//   blocks.0.att.time_decay + time_first   → RWKV-4
// Variants the spec does not cover (DeepEmbed, x060a/b/c) are rejected by name.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "rwkv/core/architecture.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/tensor_file.hpp"

namespace rwkv {

inline architecture detect_architecture(const io::tensor_file& f) {
    const auto has = [&](std::string_view n) { return f.find(n) != nullptr; };
    const auto any_key_contains = [&](std::string_view part) {
        for (const auto& t : f.tensors())
            if (t.name.find(part) != std::string::npos) return true;
        return false;
    };
    for (std::string_view variant : {"ffn.s_emb", "s_emb_x", "qq.weight", "time_maa_rkvw_w1", "gate_w1"})
        if (any_key_contains(variant))
            throw unsupported_error(f.display_name() + ": tensor names contain '" + std::string(variant) +
                                    "', an RWKV variant (DeepEmbed / x060a-c) this library does not run");

    if (!has("emb.weight") || !has("blocks.0.ln1.weight")) {
        std::string found;
        std::size_t shown = 0;
        for (const auto& t : f.tensors()) {
            if (shown++ == 8) {
                found += ", ...";
                break;
            }
            found += (found.empty() ? "" : ", ") + t.name;
        }
        throw model_error(f.display_name() + ": not an RWKV checkpoint: expected tensors emb.weight and " +
                          "blocks.0.ln1.weight; found " + std::to_string(f.tensors().size()) +
                          " tensors" + (found.empty() ? "" : " (" + found + ")"));
    }
    if (has("blocks.0.att.k_k") || has("blocks.0.att.r_k") || has("blocks.0.att.x_r")) return architecture::rwkv7;
    if (has("blocks.0.att.time_maa_x"))  // GoldFinch: Finch-C2 blocks + the key-cache compressor
        return has("w_kv_cache_a.weight") || has("blocks.0.att.time_value2_w1") ? architecture::goldfinch
                                                                                : architecture::rwkv6;
    if (has("blocks.0.att.ln_x.weight")) return architecture::rwkv5;
    if (has("blocks.0.att.time_decay") && has("blocks.0.att.time_first")) return architecture::rwkv4;
    throw model_error(f.display_name() +
                      ": unknown RWKV architecture: block 0 has none of att.k_k/att.r_k (RWKV-7), "
                      "att.time_maa_x (RWKV-6), att.ln_x.weight (RWKV-5), att.time_decay+att.time_first (RWKV-4)");
}

}  // namespace rwkv
