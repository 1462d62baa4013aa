// rwkv/tooling/convert.hpp — writes a loaded model back to a .safetensors file in the form its
// precision policy keeps it, so that the next load does no work: every matrix is mapped and used
// in place (rwkv-cli convert).
//
// What the file holds:
//   * every matrix the model reads, as the policy stores it: F32, BF16, F16, or block-quantized
//     int8/int4 codes and scales (io/quantized_tensors.hpp), under its own name and shape;
//   * emb.weight as the ln0-folded table (f32, or int8 blocks under the quantized policies), with
//     metadata "rwkv.emb_ln0_folded" = "true" so that ln0 is not applied twice;
//   * every other tensor (per-channel vectors, LoRA biases, ln0 itself) exactly as in the source;
//   * the source's metadata (e.g. a GoldFinch config), plus "rwkv.precision".
// Loading the result under the same policy gives bitwise the same model as quantizing at load.
#pragma once

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/io/quantized_tensors.hpp"
#include "rwkv/io/safetensors.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/recurrent_model.hpp"

namespace rwkv {

namespace convert_detail {

inline std::vector<std::int64_t> dims(std::size_t rows, std::size_t cols) {
    return {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)};
}

// The tensors (and their "rwkv.quantized" entries) that store matrix `m` under `name`.
template <class W>
void add_matrix(const std::string& name, const std::vector<std::int64_t>& shape, const_matrix_view<W> m,
                std::vector<io::tensor_to_write>& out, nlohmann::json& index) {
    if constexpr (quant_format<W>) {
        const std::size_t row_bytes = quant_row_bytes<W>(m.cols), blocks = quant_row_blocks<W>(m.cols);
        if (m.code_stride != row_bytes || m.scale_stride != blocks)
            throw invalid_argument("convert: matrix '" + name + "' is not stored contiguously");
        out.push_back({name, W::bits == 8 ? dtype::i8 : dtype::u8, dims(m.rows, row_bytes),
                       std::as_bytes(std::span(m.codes, m.rows * row_bytes))});
        out.push_back({name + io::quantized_scales_suffix, dtype::f32, dims(m.rows, blocks),
                       std::as_bytes(std::span(m.scales, m.rows * blocks))});
        index[name] = {{"format", std::string(W::name)}, {"shape", shape}};
    } else {
        if (m.stride != m.cols) throw invalid_argument("convert: matrix '" + name + "' is not stored contiguously");
        out.push_back({name, dtype_of<std::remove_const_t<W>>::value, shape,
                       std::as_bytes(std::span(m.data, m.rows * m.cols))});
    }
}

}  // namespace convert_detail

// Writes `model` (any recurrent_model-derived architecture) to `path` as described above.
// Throws io_error when the file cannot be written (the target is then left untouched).
template <class Model>
void save_converted(const Model& model, const std::filesystem::path& path) {
    using namespace convert_detail;
    const auto& store = model.weights();
    const auto& source = store.file;
    std::map<std::string, const typename std::remove_cvref_t<decltype(store)>::stored_matrix*, std::less<>> matrices;
    for (const auto& m : store.matrices) matrices.emplace(m.name, &m);

    std::vector<io::tensor_to_write> out;
    nlohmann::json index = nlohmann::json::object();
    for (const auto& e : source.tensors()) {
        if (e.name == "emb.weight") {
            const auto& emb = model.io().embedding;
            add_matrix(e.name, dims(emb.rows, emb.cols), emb, out, index);
        } else if (const auto it = matrices.find(e.name); it != matrices.end()) {
            add_matrix(e.name, it->second->shape, it->second->view, out, index);
        } else if (e.quant_bits != 0) {  // quantized in the source but not read as a matrix: kept as is
            const std::size_t cols = static_cast<std::size_t>(e.shape.back());
            const std::size_t rows = static_cast<std::size_t>(e.numel()) / cols;
            out.push_back({e.name, e.type, dims(rows, io::quantized_row_bytes(e.quant_bits, cols)), e.bytes});
            out.push_back({e.name + io::quantized_scales_suffix, dtype::f32,
                           dims(rows, io::quantized_row_blocks(cols)), e.scales});
            index[e.name] = {{"format", e.quant_bits == 8 ? "int8" : "int4"}, {"shape", e.shape}};
        } else {
            out.push_back({e.name, e.type, e.shape, e.bytes});
        }
    }
    std::map<std::string, std::string> metadata(source.metadata().begin(), source.metadata().end());
    metadata.erase(io::quantized_metadata_key);
    if (!index.empty()) metadata[io::quantized_metadata_key] = index.dump();
    metadata[ln0_folded_metadata_key] = "true";
    metadata["rwkv.precision"] = std::string(Model::precision_type::name);
    io::write_safetensors(path, out, metadata);
}

}  // namespace rwkv
