// The golden models as the backend tests load them (test_isolated_backend.cpp, test_cuda.cpp): where
// a golden's files are, GoldFinch loaded with a small cache, and bitwise comparison.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "rwkv/models/goldfinch.hpp"
#include "../test_support.hpp"

namespace rwkv_test {

struct golden_files {
    std::filesystem::path dir;  // empty: not found
    std::string prefix;         // e.g. "v7-c128-l2"
    std::filesystem::path model() const { return dir / (prefix + ".safetensors"); }
    std::vector<std::int32_t> tokens() const {
        std::ifstream f(dir / (prefix + ".tokens.json"));
        return nlohmann::json::parse(f).get<std::vector<std::int32_t>>();
    }
};

// The shared golden of `prefix`, or (RWKV-7 only) the copy in tests/data; empty dir when absent.
inline golden_files find_golden(const std::string& prefix) {
    if (const auto g = shared_golden_dir(); !g.empty()) return {g, prefix};
    if (prefix == "v7-c128-l2") return {data_dir(), prefix};
    return {};
}

inline bool same_bits(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

// GoldFinch's load takes options (its cache capacity) before the backend: this one has the
// load(path) of the other architectures, with room for 128 tokens.
template <class B, class P>
struct goldfinch_model : rwkv::goldfinch::model<B, P> {
    using rwkv::goldfinch::model<B, P>::model;
    static goldfinch_model load(const std::filesystem::path& p) {
        rwkv::goldfinch::options opt;
        opt.max_context = 128;
        return goldfinch_model(rwkv::io::tensor_file::open(p), opt);
    }
};

}  // namespace rwkv_test
