// rwkv/io/quantized_tensors.hpp — block-quantized matrices inside a .safetensors file.
//
// `rwkv-cli convert` writes a quantized matrix NAME of logical shape [..., cols] (rows = the
// product of the other dimensions) as two ordinary safetensors tensors, so any safetensors reader
// can open the file:
//   NAME          I8 (int8) or U8 (int4) [rows, quant_row_bytes(cols)]   the codes (core/quant.hpp layout)
//   NAME.scales   F32 [rows, quant_row_blocks(cols)]                        one scale per 32 weights
// and lists it in the metadata entry "rwkv.quantized", a JSON object
//   {"NAME": {"format": "int8" | "int4", "shape": [..., cols]}, ...}.
// On reading, the two tensors become one tensor_entry with quant_bits 8 or 4 and the logical shape,
// so shape checks and architecture detection see the model's own shapes. Every mismatch is a
// format_error naming the file and tensor.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/tensor_entry.hpp"

namespace rwkv::io {

inline constexpr const char* quantized_metadata_key = "rwkv.quantized";
inline constexpr const char* quantized_scales_suffix = ".scales";

// Codes bytes and scale blocks of one row of `cols` weights at `bits` per code.
inline std::size_t quantized_row_bytes(unsigned bits, std::size_t cols) noexcept {
    return bits == 8 ? quant_row_bytes<int8_block>(cols) : quant_row_bytes<int4_block>(cols);
}
inline std::size_t quantized_row_blocks(std::size_t cols) noexcept { return quant_row_blocks<int8_block>(cols); }

// Replaces each (codes, scales) pair listed in metadata["rwkv.quantized"] by one quantized entry.
// An I8/U8 tensor that is not listed there is left as it is (the loader rejects it by name).
inline void merge_quantized_tensors(std::vector<tensor_entry>& tensors,
                                    const std::map<std::string, std::string, std::less<>>& metadata,
                                    const std::string& display_name) {
    const auto it = metadata.find(quantized_metadata_key);
    if (it == metadata.end()) return;
    auto fail = [&](const std::string& what) {
        return format_error(display_name + ": metadata '" + quantized_metadata_key + "': " + what);
    };
    nlohmann::json index;
    try {
        index = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("not valid JSON: ") + e.what());
    }
    if (!index.is_object()) throw fail("expected a JSON object {name: {format, shape}}");

    std::map<std::string_view, std::size_t> by_name;
    for (std::size_t i = 0; i < tensors.size(); ++i) by_name.emplace(tensors[i].name, i);
    auto find = [&](const std::string& name) -> std::optional<std::size_t> {
        const auto f = by_name.find(name);
        return f == by_name.end() ? std::nullopt : std::optional<std::size_t>(f->second);
    };
    std::vector<char> drop(tensors.size(), 0);
    for (const auto& [name, info] : index.items()) {
        const std::string shown = "tensor '" + detail::printable(name) + "'";
        if (!info.is_object()) throw fail(shown + ": expected {\"format\": ..., \"shape\": [...]}");
        const auto fmt = info.find("format");
        const auto shp = info.find("shape");
        if (fmt == info.end() || !fmt->is_string() || (*fmt != "int8" && *fmt != "int4"))
            throw fail(shown + ": \"format\" must be \"int8\" or \"int4\"");
        if (shp == info.end() || !shp->is_array() || shp->empty())
            throw fail(shown + ": \"shape\" must be a non-empty array of positive integers");
        std::vector<std::int64_t> shape;
        std::uint64_t rows = 1;
        for (const auto& d : *shp) {
            if (!d.is_number_unsigned() || d.get<std::uint64_t>() == 0 || d.get<std::uint64_t>() > (1ull << 40))
                throw fail(shown + ": \"shape\" must be a non-empty array of positive integers, found " + shp->dump());
            shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
        }
        const auto cols = static_cast<std::uint64_t>(shape.back());
        for (std::size_t i = 0; i + 1 < shape.size(); ++i) {
            rows *= static_cast<std::uint64_t>(shape[i]);
            if (rows > (1ull << 40)) throw fail(shown + ": shape " + shp->dump() + " is too large");
        }
        const unsigned bits = *fmt == "int8" ? 8 : 4;
        const auto row_bytes = quantized_row_bytes(bits, cols), blocks = quantized_row_blocks(cols);

        const auto ci = find(name);
        const auto si = find(name + quantized_scales_suffix);
        if (!ci) throw fail(shown + " is listed but not stored");
        if (!si) throw fail(shown + ": its scales '" + detail::printable(name) + quantized_scales_suffix + "' are missing");
        tensor_entry& codes = tensors[*ci];
        const tensor_entry& scales = tensors[*si];
        const dtype code_type = bits == 8 ? dtype::i8 : dtype::u8;
        const std::vector<std::int64_t> code_shape{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(row_bytes)};
        const std::vector<std::int64_t> scale_shape{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(blocks)};
        auto dims = [](const std::vector<std::int64_t>& s) {
            std::string out = "[";
            for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
            return out + "]";
        };
        if (codes.quant_bits != 0 || codes.type != code_type || codes.shape != code_shape)
            throw format_error(display_name + ": " + shown + " (" + std::string(*fmt) + " codes) has dtype " +
                               std::string(dtype_name(codes.type)) + " shape " + dims(codes.shape) + ", expected " +
                               std::string(dtype_name(code_type)) + " " + dims(code_shape));
        if (scales.type != dtype::f32 || scales.shape != scale_shape)
            throw format_error(display_name + ": tensor '" + detail::printable(scales.name) + "' has dtype " +
                               std::string(dtype_name(scales.type)) + " shape " + dims(scales.shape) +
                               ", expected f32 " + dims(scale_shape));
        codes.quant_bits = bits;
        codes.shape = std::move(shape);
        codes.scales = scales.bytes;
        drop[*si] = 1;
    }
    std::vector<tensor_entry> kept;
    kept.reserve(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i)
        if (!drop[i]) kept.push_back(std::move(tensors[i]));
    tensors = std::move(kept);
}

}  // namespace rwkv::io
