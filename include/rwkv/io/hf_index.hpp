// rwkv/io/hf_index.hpp — the shard index of a Hugging Face checkpoint split over several files
// (model.safetensors.index.json, pytorch_model.bin.index.json; docs/formats.md, "Hugging Face files").
//
// The index is a JSON object whose "weight_map" maps every tensor name to the file (a shard, beside
// the index) that holds it; "metadata" (e.g. total_size) is ignored. The loader opens each shard
// once and checks the tensors it finds against this map.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"

namespace rwkv::io {

struct hf_shard_index {
    std::vector<std::string> shards;                                  // each shard once, in first-listed order
    std::map<std::string, std::string, std::less<>> weight_map;       // tensor name → shard file name
};

// A file whose first non-blank byte is '{': a JSON document (an index or a config), not a tensor file.
inline bool looks_like_json(std::span<const std::byte> data) noexcept {
    for (std::byte b : data) {
        const auto c = std::to_integer<unsigned char>(b);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        return c == '{';
    }
    return false;
}

// A shard must be a plain file name beside the index: no folder part, not "." or "..", no NUL. This
// keeps an index from pointing the loader at files elsewhere.
inline bool is_plain_shard_name(std::string_view s) noexcept {
    if (s.empty() || s == "." || s == "..") return false;
    for (char c : s)
        if (c == '/' || c == '\\' || c == '\0' || c == ':') return false;
    return true;
}

// Parses an index. Throws format_error ("NAME: ...") for malformed JSON, a missing or non-object
// "weight_map", a non-string shard, a shard name with a folder part, or an empty map.
inline hf_shard_index parse_hf_index(std::string_view text, const std::string& display_name) {
    auto fail = [&](const std::string& what) { return format_error(display_name + ": " + what); };
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("not valid JSON: ") + e.what());
    }
    if (!doc.is_object()) throw fail("a shard index must be a JSON object");
    const auto it = doc.find("weight_map");
    if (it == doc.end()) throw fail("not a shard index: no \"weight_map\" (expected {\"weight_map\": {tensor: file}})");
    if (!it->is_object()) throw fail("\"weight_map\" must be an object mapping tensor names to shard files");
    hf_shard_index out;
    for (const auto& [tensor, shard] : it->items()) {
        if (!shard.is_string())
            throw fail("\"weight_map\" entry '" + detail::printable(tensor) + "' is not a file name string");
        const auto& file = shard.get_ref<const std::string&>();
        if (!is_plain_shard_name(file))
            throw fail("tensor '" + detail::printable(tensor) + "' is mapped to '" + detail::printable(file) +
                       "'; a shard must be a file name beside the index, without a folder part");
        if (out.weight_map.emplace(tensor, file).second &&
            std::find(out.shards.begin(), out.shards.end(), file) == out.shards.end())
            out.shards.push_back(file);
    }
    if (out.weight_map.empty()) throw fail("\"weight_map\" is empty: no tensors");
    return out;
}

}  // namespace rwkv::io
