// rwkv/io/ggmf_rwkv.hpp — the tensors of an rwkv.cpp model file under the official checkpoint
// names and shapes (docs/spec/rwkv.md §5.1), so the models load them like a .pth.
//
// rwkv.cpp's converter keeps the official names but reshapes and precomputes some tensors; what it
// did, per architecture (detected from the names as rwkv.cpp does), and what is undone here
// (docs/formats.md, rwkv.cpp section):
//   * every tensor: dimensions stored innermost first → reversed back to PyTorch order;
//   * the '.time_' vectors were squeezed → time_mix_* / time_maa_* back to [1, 1, C];
//   * RWKV-4: att.time_decay holds −exp(time_decay) → log(−x);
//   * RWKV-5.x: att.time_decay holds exp(−exp(time_decay)) → log(−log(x)), [H, N] (5.2) or [H]
//     (5.1); 5.1's att.time_first holds exp(time_first) → log(x), [H]; 5.2's time_faaaa [H, N, 1] → [H, N];
//   * RWKV-6: time_decay [H, N, 1] → [1, 1, C], time_faaaa → [H, N]; time_maa_w1, time_decay_w1/w2
//     were transposed, time_maa_w2 [5, D, C] per slice: transposed back;
//   * RWKV-7: att.x_rwkvag [6, 1, C] is split into att.x_r, x_w, x_k, x_v, x_a, x_g [1, 1, C]; the
//     LoRA factors w1/w2, a1/a2, v1/v2, g1/g2 were transposed: transposed back.
// rwkv.cpp runs RWKV-5.x's GroupNorm with eps 1e-5, not the official 64e-5: the metadata says so
// (ggmf_metadata), and models/rwkv5.hpp follows it, as rwkv.cpp's expected logits need.
// The inverted decays are computed in double from the stored f32 and round back to within a few
// ulps through the model's forward transform. Block-quantized tensors are dequantized exactly to f32
// (ggml_types.hpp); F32 and F16 tensors stay in place unless transformed.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/ggmf.hpp"
#include "rwkv/io/ggml_types.hpp"
#include "rwkv/io/gguf_rwkv.hpp"
#include "rwkv/io/tensor_entry.hpp"

namespace rwkv::io {

// The layouts rwkv.cpp writes, told apart by tensor names the way its loader does.
enum class ggmf_layout { rwkv4, rwkv5_1, rwkv5_2, rwkv6, rwkv7 };

inline const char* ggmf_layout_name(ggmf_layout l) noexcept {
    switch (l) {
        case ggmf_layout::rwkv4: return "4";
        case ggmf_layout::rwkv5_1: return "5.1";
        case ggmf_layout::rwkv5_2: return "5.2";
        case ggmf_layout::rwkv6: return "6";
        case ggmf_layout::rwkv7: return "7";
    }
    return "?";
}

// The metadata key by which a file asks for RWKV-5's GroupNorm eps (models/rwkv5.hpp); rwkv.cpp
// runs RWKV-5.x with 1e-5 where the official code has 64e-5, and its files are made to be run so.
inline constexpr const char* rwkv5_group_norm_eps_key = "rwkv5.group_norm_eps";

struct ggmf_model_tensors {
    std::vector<tensor_entry> tensors;
    owned_tensor_bytes owned;
    ggmf_layout layout = ggmf_layout::rwkv4;
};

namespace detail {

class ggmf_rwkv_mapper {
public:
    ggmf_rwkv_mapper(const ggmf_contents& file, const std::string& display_name) : file_(file), name_(display_name) {}

    ggmf_model_tensors run() {
        layout_ = detect();
        check_header();
        for (const auto& t : file_.tensors) map(t);
        out_.layout = layout_;
        return std::move(out_);
    }

private:
    bool has(std::string_view n) const {
        return std::any_of(file_.tensors.begin(), file_.tensors.end(), [&](const auto& t) { return t.name == n; });
    }

    ggmf_layout detect() const {
        if (has("blocks.0.att.r_k")) return ggmf_layout::rwkv7;
        if (has("blocks.0.att.time_maa_x")) return ggmf_layout::rwkv6;
        if (has("blocks.0.att.ln_x.weight"))
            return has("blocks.0.att.gate.weight") ? ggmf_layout::rwkv5_2 : ggmf_layout::rwkv5_1;
        return ggmf_layout::rwkv4;
    }

    // The header's n_vocab, n_embd and n_layer agree with the tensors (as rwkv.cpp checks emb).
    void check_header() const {
        for (const auto& t : file_.tensors) {
            if (t.name != "emb.weight") continue;
            if (t.ne != std::vector<std::int64_t>{file_.n_embd, file_.n_vocab})
                throw model_error(name_ + ": tensor 'emb.weight' has rwkv.cpp dimensions " + ggmf_dims_string(t.ne) +
                                  ", expected [n_embd, n_vocab] = [" + std::to_string(file_.n_embd) + ", " +
                                  std::to_string(file_.n_vocab) + "] from the file header");
        }
        std::size_t layers = 0;
        for (const auto& t : file_.tensors) {
            std::size_t layer = 0;
            std::string_view field;
            if (split_block(t.name, layer, field)) layers = std::max(layers, layer + 1);
        }
        if (layers != file_.n_layer)
            throw model_error(name_ + ": the file header says n_layer " + std::to_string(file_.n_layer) +
                              " but the tensors name " + std::to_string(layers) + " blocks");
    }

    // "blocks.N.rest" → N and rest.
    static bool split_block(std::string_view n, std::size_t& layer, std::string_view& rest) {
        if (!n.starts_with("blocks.")) return false;
        n.remove_prefix(7);
        const auto dot = n.find('.');
        if (dot == 0 || dot == std::string_view::npos) return false;
        const auto r = std::from_chars(n.data(), n.data() + dot, layer);
        if (r.ec != std::errc{} || r.ptr != n.data() + dot) return false;
        rest = n.substr(dot + 1);
        return true;
    }

    void map(const ggmf_tensor_info& t) {
        std::size_t layer = 0;
        std::string_view field;
        if (!split_block(t.name, layer, field)) return plain(t, t.name);
        const std::string block(t.name.substr(0, t.name.size() - field.size()));  // "blocks.N."
        switch (layout_) {
            case ggmf_layout::rwkv7:
                if (field == "att.x_rwkvag") return split_lerps(t, block);
                for (std::string_view lora : {"w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"})
                    if (field == "att." + std::string(lora)) return transposed(t);
                break;
            case ggmf_layout::rwkv6:
                if (field == "att.time_maa_w1" || field == "att.time_maa_w2" || field == "att.time_decay_w1" ||
                    field == "att.time_decay_w2")
                    return transposed(t);
                if (field == "att.time_decay") return reshaped(t, channel_shape(t));
                if (field == "att.time_faaaa") return reshaped(t, heads_shape(t, 1));
                if (field.find(".time_maa_") != std::string_view::npos) return reshaped(t, channel_shape(t));
                break;
            case ggmf_layout::rwkv5_1:
            case ggmf_layout::rwkv5_2: {
                const bool v5_2 = layout_ == ggmf_layout::rwkv5_2;
                // 5.2: [H, N, 1] per channel; 5.1: [H, 1, 1] per head.
                if (field == "att.time_decay")
                    return inverted(t, heads_shape(t, v5_2 ? 1 : 2), "exp(-exp(time_decay)), in [0, 1]",
                                    [](double x) { return std::log(-std::log(x)); });
                if (field == "att.time_faaaa") return reshaped(t, heads_shape(t, 1));
                if (field == "att.time_first")
                    return inverted(t, heads_shape(t, 2), "exp(time_first), positive",
                                    [](double x) { return std::log(x); });
                if (field.find(".time_mix_") != std::string_view::npos) return reshaped(t, channel_shape(t));
                break;
            }
            case ggmf_layout::rwkv4:
                if (field == "att.time_decay")
                    return inverted(t, reversed(t.ne), "-exp(time_decay), at most 0",
                                    [](double x) { return std::log(-x); });
                if (field.find(".time_mix_") != std::string_view::npos) return reshaped(t, channel_shape(t));
                break;
        }
        plain(t, t.name);
    }

    static std::vector<std::int64_t> reversed(const std::vector<std::int64_t>& ne) { return {ne.rbegin(), ne.rend()}; }

    model_error bad_shape(const ggmf_tensor_info& t, const std::string& expected) const {
        return model_error(name_ + ": tensor '" + printable(t.name) + "' has rwkv.cpp dimensions " +
                           ggmf_dims_string(t.ne) + ", expected " + expected);
    }

    // A squeezed per-channel vector (ne [C]) → [1, 1, C].
    std::vector<std::int64_t> channel_shape(const ggmf_tensor_info& t) const {
        std::int64_t c = 1;
        for (auto d : t.ne) c *= d;
        if (c != file_.n_embd) throw bad_shape(t, std::to_string(file_.n_embd) + " (n_embd) elements");
        return {1, 1, c};
    }

    // ne [1, N, H] → [H, N] (keep 1), ne [1, 1, H] → [H] (keep 2).
    std::vector<std::int64_t> heads_shape(const ggmf_tensor_info& t, int keep) const {
        const bool ok = t.ne.size() == 3 && t.ne[0] == 1 && (keep == 1 || t.ne[1] == 1);
        if (!ok) throw bad_shape(t, keep == 1 ? "[1, N, H]" : "[1, 1, H]");
        if (keep == 2) return {t.ne[2]};
        return {t.ne[2], t.ne[1]};
    }

    // All elements as f32, dequantized or widened.
    static std::vector<std::byte> to_f32(const ggmf_tensor_info& t) {
        const auto layout = ggml_layout(t.type);
        const auto count = t.bytes.size() / layout.block_bytes * layout.block_elements;
        std::vector<std::byte> buf(count * 4);
        ggml_to_f32(t.type, t.bytes.data(), count, reinterpret_cast<float*>(buf.data()));
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

    // Under `name` with `shape` (same element count); in place unless block-quantized.
    void stored(const ggmf_tensor_info& t, std::string name, std::vector<std::int64_t> shape) {
        if (ggml_is_block_quantized(t.type)) return add(std::move(name), dtype::f32, std::move(shape), keep(to_f32(t)));
        add(std::move(name), ggml_plain_dtype(t.type), std::move(shape), t.bytes);
    }

    void plain(const ggmf_tensor_info& t, const std::string& name) { stored(t, name, reversed(t.ne)); }
    void reshaped(const ggmf_tensor_info& t, std::vector<std::int64_t> shape) { stored(t, t.name, std::move(shape)); }

    // The official values from the ones rwkv.cpp precomputed: official = fn(stored) in double.
    // An out-of-domain value (NaN) is refused; ±inf (a decay of exactly 0 or 1) is clamped to a
    // finite value the forward transform maps back to the same stored value.
    template <class Fn>
    void inverted(const ggmf_tensor_info& t, std::vector<std::int64_t> shape, const char* stored_as, Fn fn) {
        auto buf = to_f32(t);
        auto* v = reinterpret_cast<float*>(buf.data());
        for (std::size_t i = 0; i < buf.size() / 4; ++i) {
            const double x = fn(static_cast<double>(v[i]));
            if (std::isnan(x))
                throw model_error(name_ + ": tensor '" + printable(t.name) + "' element " + std::to_string(i) + " is " +
                                  std::to_string(v[i]) + "; rwkv.cpp stores it as " + stored_as);
            v[i] = static_cast<float>(std::clamp(x, -200.0, 200.0));
        }
        add(t.name, dtype::f32, std::move(shape), keep(std::move(buf)));
    }

    // att.x_rwkvag, ne [C, 1, 6] → the six token-shift lerps, each [1, 1, C].
    void split_lerps(const ggmf_tensor_info& t, const std::string& block) {
        static constexpr const char* lerps[] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
        if (t.ne.size() != 3 || t.ne[1] != 1 || t.ne[2] != 6) throw bad_shape(t, "[C, 1, 6]");
        const auto c = static_cast<std::size_t>(t.ne[0]);
        std::span<const std::byte> src = t.bytes;
        dtype type = ggml_plain_dtype(t.type);
        if (ggml_is_block_quantized(t.type)) {
            src = keep(to_f32(t));
            type = dtype::f32;
        }
        const std::size_t size = dtype_size(type);
        for (std::size_t i = 0; i < 6; ++i)
            add(block + "att." + lerps[i], type, {1, 1, t.ne[0]}, src.subspan(i * c * size, c * size));
    }

    // A matrix (or a stack of them) stored transposed: ne [a, b(, n)] holds, per slice, the PyTorch
    // [b, a] transpose of the official [a, b] matrix.
    void transposed(const ggmf_tensor_info& t) {
        if (t.ne.size() != 2 && t.ne.size() != 3) throw bad_shape(t, "2 or 3 dimensions");
        const auto a = static_cast<std::size_t>(t.ne[0]), b = static_cast<std::size_t>(t.ne[1]);
        const std::size_t slices = t.ne.size() == 3 ? static_cast<std::size_t>(t.ne[2]) : 1;
        std::vector<std::byte> dequantized;
        std::span<const std::byte> src = t.bytes;
        dtype type = ggml_plain_dtype(t.type);
        if (ggml_is_block_quantized(t.type)) {
            dequantized = to_f32(t);
            src = dequantized;
            type = dtype::f32;
        }
        const std::size_t size = dtype_size(type);
        std::vector<std::byte> buf(slices * a * b * size);
        for (std::size_t s = 0; s < slices; ++s) {
            const std::size_t base = s * a * b;
            // Stored row i (of b) holds column i of the official matrix.
            for (std::size_t i = 0; i < b; ++i)
                for (std::size_t j = 0; j < a; ++j)
                    std::memcpy(&buf[(base + j * b + i) * size], &src[(base + i * a + j) * size], size);
        }
        std::vector<std::int64_t> shape{t.ne[0], t.ne[1]};
        if (t.ne.size() == 3) shape.insert(shape.begin(), t.ne[2]);
        add(t.name, type, std::move(shape), keep(std::move(buf)));
    }

    const ggmf_contents& file_;
    const std::string& name_;
    ggmf_layout layout_ = ggmf_layout::rwkv4;
    ggmf_model_tensors out_;
};

}  // namespace detail

// The tensors of an rwkv.cpp file under official names; model_error for tensors whose dimensions
// do not fit the mapping or the header.
inline ggmf_model_tensors ggmf_rwkv_tensors(const ggmf_contents& file, const std::string& display_name) {
    return detail::ggmf_rwkv_mapper(file, display_name).run();
}

// What the header says, the layout, and for RWKV-5.x the GroupNorm eps rwkv.cpp runs it with.
inline std::map<std::string, std::string, std::less<>> ggmf_metadata(const ggmf_contents& file, ggmf_layout layout) {
    std::map<std::string, std::string, std::less<>> m{{"rwkv_cpp.file_version", std::to_string(file.version)},
                                                      {"rwkv_cpp.n_vocab", std::to_string(file.n_vocab)},
                                                      {"rwkv_cpp.n_embd", std::to_string(file.n_embd)},
                                                      {"rwkv_cpp.n_layer", std::to_string(file.n_layer)},
                                                      {"rwkv_cpp.architecture", ggmf_layout_name(layout)}};
    if (layout == ggmf_layout::rwkv5_1 || layout == ggmf_layout::rwkv5_2) m.emplace(rwkv5_group_norm_eps_key, "1e-5");
    return m;
}

}  // namespace rwkv::io
