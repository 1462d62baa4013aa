// rwkv/io/gguf_rwkv.hpp — the tensors of a llama.cpp RWKV GGUF file under the official checkpoint
// names and shapes (docs/spec/rwkv.md §5.1), so the models load them like a .pth.
//
// What llama.cpp's converter did, and what is undone here (docs/formats.md, GGUF section):
//   * dimensions are stored innermost first: they are reversed back to PyTorch order;
//   * names: token_embd → emb, token_embd_norm → blocks.0.ln0, blk.N.attn_norm → blocks.N.ln1,
//     attn_norm_2 → ln2, output_norm → ln_out, output → head, time_mix_* → att.*, channel_mix_* → ffn.*;
//   * time_mix_lerp_fused [6,1,1,C] is split into att.x_r, x_w, x_k, x_v, x_a, x_g [1,1,C];
//   * the LoRA factors w1/w2, a1/a2, v1/v2, g1/g2 were transposed: they are transposed back;
//   * the [1,1,C] vectors were flattened to [C], r_k to [C]: reshaped back ([H, N] with N =
//     rwkv7.wkv.head_size);
//   * layer 0's v0/v1/v2 are dummies (copies of a0/a1/a2): dropped (layer 0 never uses them).
// Block-quantized tensors are dequantized exactly to f32 (ggml_types.hpp); F32, F16 and BF16 tensors
// stay in place unless they must be transposed. Tensors with names not listed here keep their GGUF
// name with the dimensions reversed.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/ggml_types.hpp"
#include "rwkv/io/gguf.hpp"
#include "rwkv/io/tensor_entry.hpp"

namespace rwkv::io {

// Bytes made at load time that the entries point into. The inner buffers never move.
using owned_tensor_bytes = std::vector<std::vector<std::byte>>;

struct gguf_model_tensors {
    std::vector<tensor_entry> tensors;
    owned_tensor_bytes owned;
};

namespace detail {

inline std::string gguf_dims_string(const std::vector<std::int64_t>& ne) {
    std::string s = "[";
    for (std::size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

class gguf_rwkv7_mapper {
public:
    gguf_rwkv7_mapper(const gguf_contents& file, const std::string& display_name)
        : file_(file), name_(display_name) {}

    gguf_model_tensors run() {
        head_size_ = metadata_count("rwkv7.wkv.head_size");
        for (const auto& t : file_.tensors) map(t);
        return std::move(out_);
    }

private:
    // One GGUF tensor to zero or more official ones.
    void map(const gguf_tensor_info& t) {
        const std::string_view n = t.name;
        if (n == "token_embd.weight") return plain(t, "emb.weight");
        if (n == "output.weight") return plain(t, "head.weight");
        if (auto rest = strip(n, "token_embd_norm.")) return plain(t, "blocks.0.ln0." + std::string(*rest));
        if (auto rest = strip(n, "output_norm.")) return plain(t, "ln_out." + std::string(*rest));
        std::size_t layer = 0;
        std::string_view field;
        if (!split_block(n, layer, field)) return plain(t, std::string(n));
        const std::string block = "blocks." + std::to_string(layer) + ".";

        if (auto rest = strip(field, "attn_norm_2.")) return plain(t, block + "ln2." + std::string(*rest));
        if (auto rest = strip(field, "attn_norm.")) return plain(t, block + "ln1." + std::string(*rest));
        if (auto rest = strip(field, "time_mix_ln.")) return plain(t, block + "att.ln_x." + std::string(*rest));
        if (field == "time_mix_lerp_fused.weight") return split_lerps(t, block);
        if (field == "channel_mix_lerp_k.weight") return channel_vector(t, block + "ffn.x_k");
        if (field == "channel_mix_key.weight") return plain(t, block + "ffn.key.weight");
        if (field == "channel_mix_value.weight") return plain(t, block + "ffn.value.weight");
        for (std::string_view linear : {"receptance", "key", "value", "output"}) {
            if (field == "time_mix_" + std::string(linear) + ".weight")
                return plain(t, block + "att." + std::string(linear) + ".weight");
        }
        const auto short_name = strip(field, "time_mix_");
        if (!short_name || !short_name->ends_with(".weight")) return plain(t, std::string(n));
        const std::string param(short_name->substr(0, short_name->size() - 7));  // "w1", "k_k", ...
        if (layer == 0 && (param == "v0" || param == "v1" || param == "v2")) return;  // dummies
        if (param == "r_k") return bonus(t, block + "att.r_k");
        for (std::string_view v : {"w0", "a0", "v0", "k_k", "k_a"})
            if (param == v) return channel_vector(t, block + "att." + param);
        for (std::string_view lora : {"w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"})
            if (param == lora) return transposed(t, block + "att." + param);
        plain(t, std::string(n));
    }

    static std::optional<std::string_view> strip(std::string_view s, std::string_view prefix) {
        if (!s.starts_with(prefix)) return std::nullopt;
        return s.substr(prefix.size());
    }

    // "blk.N.rest" → N and rest.
    static bool split_block(std::string_view n, std::size_t& layer, std::string_view& rest) {
        if (!n.starts_with("blk.")) return false;
        n.remove_prefix(4);
        const auto dot = n.find('.');
        if (dot == 0 || dot == std::string_view::npos) return false;
        const auto r = std::from_chars(n.data(), n.data() + dot, layer);
        if (r.ec != std::errc{} || r.ptr != n.data() + dot) return false;
        rest = n.substr(dot + 1);
        return true;
    }

    std::optional<std::int64_t> metadata_count(const std::string& key) const {
        const auto it = file_.metadata.find(key);
        if (it == file_.metadata.end()) return std::nullopt;
        std::int64_t v = 0;
        const auto& s = it->second;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v <= 0)
            throw model_error(name_ + ": metadata '" + key + "' is '" + printable(s, 40) + "', expected a positive integer");
        return v;
    }

    model_error bad_shape(const gguf_tensor_info& t, const std::string& expected) const {
        return model_error(name_ + ": tensor '" + printable(t.name) + "' has GGUF dimensions " + gguf_dims_string(t.ne) +
                           ", expected " + expected);
    }

    static std::vector<std::int64_t> reversed(const std::vector<std::int64_t>& ne) { return {ne.rbegin(), ne.rend()}; }

    // `count` values from element `begin_element` on (a block boundary) as f32 bytes, dequantized.
    static std::vector<std::byte> to_f32(const gguf_tensor_info& t, std::size_t begin_element, std::size_t count) {
        const auto layout = ggml_layout(t.type);
        std::vector<std::byte> buf(count * 4);
        const std::size_t first_byte = begin_element / layout.block_elements * layout.block_bytes;
        ggml_to_f32(t.type, t.bytes.data() + first_byte, count, reinterpret_cast<float*>(buf.data()));
        return buf;
    }

    std::span<const std::byte> keep(std::vector<std::byte>&& buf) {
        out_.owned.push_back(std::move(buf));
        return out_.owned.back();
    }

    void add(std::string name, dtype type, std::vector<std::int64_t> shape, std::span<const std::byte> bytes) {
        tensor_entry e;
        e.name = std::move(name);
        e.type = type;
        e.shape = std::move(shape);
        e.bytes = bytes;
        out_.tensors.push_back(std::move(e));
    }

    // Renamed, dimensions reversed; in place unless block-quantized.
    void plain(const gguf_tensor_info& t, std::string name) {
        if (ggml_is_block_quantized(t.type)) {
            const auto layout = ggml_layout(t.type);
            const auto n = static_cast<std::size_t>(t.bytes.size() / layout.block_bytes * layout.block_elements);
            return add(std::move(name), dtype::f32, reversed(t.ne), keep(to_f32(t, 0, n)));
        }
        add(std::move(name), ggml_plain_dtype(t.type), reversed(t.ne), t.bytes);
    }

    // A [C] vector back to its official [1, 1, C].
    void channel_vector(const gguf_tensor_info& t, std::string name) {
        if (t.ne.size() != 1) throw bad_shape(t, "[C]");
        plain(t, std::move(name));
        out_.tensors.back().shape = {1, 1, t.ne[0]};
    }

    // r_k [C] back to [H, N].
    void bonus(const gguf_tensor_info& t, std::string name) {
        if (t.ne.size() == 2) return plain(t, std::move(name));
        if (t.ne.size() != 1) throw bad_shape(t, "[C] or [N, H]");
        if (!head_size_)
            throw model_error(name_ + ": metadata 'rwkv7.wkv.head_size' is missing; it gives the shape [H, N] of '" +
                              printable(t.name) + "'");
        if (t.ne[0] % *head_size_ != 0)
            throw model_error(name_ + ": tensor '" + printable(t.name) + "' has " + std::to_string(t.ne[0]) +
                              " elements, not a multiple of rwkv7.wkv.head_size " + std::to_string(*head_size_));
        plain(t, std::move(name));
        out_.tensors.back().shape = {t.ne[0] / *head_size_, *head_size_};
    }

    // [6,1,1,C] (PyTorch order) into the six token-shift lerps, each [1, 1, C].
    void split_lerps(const gguf_tensor_info& t, const std::string& block) {
        static constexpr const char* lerps[] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
        if (t.ne.size() != 4 || t.ne[1] != 1 || t.ne[2] != 1 || t.ne[3] != 6) throw bad_shape(t, "[C, 1, 1, 6]");
        const auto c = static_cast<std::size_t>(t.ne[0]);
        for (std::size_t i = 0; i < 6; ++i) {
            const std::string name = block + "att." + lerps[i];
            const std::vector<std::int64_t> shape{1, 1, t.ne[0]};
            if (ggml_is_block_quantized(t.type)) {
                add(name, dtype::f32, shape, keep(to_f32(t, i * c, c)));
            } else {
                const auto type = ggml_plain_dtype(t.type);
                add(name, type, shape, t.bytes.subspan(i * c * dtype_size(type), c * dtype_size(type)));
            }
        }
    }

    // A 2-D LoRA factor stored transposed: GGUF ne [a, b] holds the PyTorch [b, a] transpose of the
    // official [a, b] matrix.
    void transposed(const gguf_tensor_info& t, std::string name) {
        if (t.ne.size() != 2) throw bad_shape(t, "2 dimensions");
        const auto a = static_cast<std::size_t>(t.ne[0]), b = static_cast<std::size_t>(t.ne[1]);
        std::vector<std::byte> dequantized;
        std::span<const std::byte> src = t.bytes;
        dtype type = ggml_plain_dtype(t.type);
        if (ggml_is_block_quantized(t.type)) {
            dequantized = to_f32(t, 0, a * b);
            src = dequantized;
            type = dtype::f32;
        }
        const std::size_t size = dtype_size(type);
        std::vector<std::byte> buf(a * b * size);
        // Stored row i (of b) holds column i of the official matrix.
        for (std::size_t i = 0; i < b; ++i)
            for (std::size_t j = 0; j < a; ++j) std::memcpy(&buf[(j * b + i) * size], &src[(i * a + j) * size], size);
        add(std::move(name), type, {t.ne[0], t.ne[1]}, keep(std::move(buf)));
    }

    const gguf_contents& file_;
    const std::string& name_;
    std::optional<std::int64_t> head_size_;
    gguf_model_tensors out_;
};

}  // namespace detail

// The tensors of an RWKV GGUF file under official names. unsupported_error for architectures other
// than rwkv7; model_error for tensors whose dimensions do not fit the mapping.
inline gguf_model_tensors gguf_rwkv_tensors(const gguf_contents& file, const std::string& display_name) {
    const auto arch = file.metadata.find("general.architecture");
    if (arch == file.metadata.end())
        throw model_error(display_name + ": GGUF metadata 'general.architecture' is missing");
    if (arch->second != "rwkv7")
        throw unsupported_error(display_name + ": GGUF architecture '" + detail::printable(arch->second, 40) +
                                "' is not supported; supported: rwkv7 (RWKV-7 as llama.cpp converts it)");
    return detail::gguf_rwkv7_mapper(file, display_name).run();
}

}  // namespace rwkv::io
