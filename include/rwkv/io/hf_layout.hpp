// rwkv/io/hf_layout.hpp — the tensors of a Hugging Face RWKV checkpoint under the official names
// and shapes (docs/spec/rwkv.md §5.1), so the models load them like a .pth. docs/formats.md, section
// "Hugging Face layouts", has the full name tables and says which converter each one undoes.
//
// Two layouts, told apart by their embedding tensor:
//   * fla (flash-linear-attention, RWKV7ForCausalLM): "model.embeddings.weight". Written by fla's
//     utils/convert_from_rwkv7.py (translate_into_fla): blocks.N → model.layers.N, att → attn,
//     ln0/ln1/ln2 → pre_norm/attn_norm/ffn_norm, receptance/key/value/output/ln_x → r/k/v/o_proj,
//     g_norm; each LoRA pair x1/x2 became the weights of two nn.Linear (lora.0, lora.2), so it is
//     stored transposed, and x0 became the second Linear's bias; [1,1,C] vectors were squeezed to [C]
//     except the token-shift lerps x_r..x_g (fla keeps those [1,1,C]; an older fla stacked them as
//     one x_x [6, C]). Undone here: names back, LoRA factors transposed back, vectors reshaped back.
//   * transformers (RwkvForCausalLM for RWKV-4; Rwkv5ForCausalLM / Rwkv6ForCausalLM, the remote code
//     of the RWKV/v5-*-HF and v6-*-HF repositories): "rwkv.embeddings.weight". Written by
//     convert_rwkv_checkpoint_to_hf.py (transformers) and convert_rwkv{5,6}_checkpoint_to_hf.py
//     (BBuf/RWKV-World-HF-Tokenizer), all through convert_state_dict: a "rwkv." prefix on all but
//     head.weight, emb → embeddings, blocks.0.ln0 → pre_ln, att → attention, ffn → feed_forward,
//     time_mix_{k,v,r,g} → time_mix_{key,value,receptance,gate}. Values and shapes are untouched
//     (time_decay, time_first / time_faaaa and ln_x stay in the official form). Undone here: names.
// A name outside the layout (a hybrid attention layer of fla, an unknown sub-module) is an
// unsupported_error naming the file and the tensor.
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
#include "rwkv/io/gguf_rwkv.hpp"  // owned_tensor_bytes
#include "rwkv/io/tensor_entry.hpp"

namespace rwkv::io {

enum class hf_layout { none, fla_rwkv7, transformers_rwkv };

constexpr std::string_view hf_layout_name(hf_layout l) noexcept {
    switch (l) {
        case hf_layout::fla_rwkv7: return "fla-rwkv7";
        case hf_layout::transformers_rwkv: return "transformers-rwkv";
        default: return "none";
    }
}

// Which Hugging Face layout the tensor names follow (none: official names or something else).
inline hf_layout detect_hf_layout(const std::vector<tensor_entry>& tensors) noexcept {
    for (const auto& t : tensors) {
        if (t.name == "model.embeddings.weight") return hf_layout::fla_rwkv7;
        if (t.name == "rwkv.embeddings.weight") return hf_layout::transformers_rwkv;
    }
    return hf_layout::none;
}

struct hf_model_tensors {
    std::vector<tensor_entry> tensors;
    owned_tensor_bytes owned;  // transposed LoRA factors
};

namespace detail {

inline std::optional<std::string_view> strip_prefix(std::string_view s, std::string_view prefix) {
    if (!s.starts_with(prefix)) return std::nullopt;
    return s.substr(prefix.size());
}

// "N.rest" → N and rest.
inline bool split_layer(std::string_view s, std::size_t& layer, std::string_view& rest) {
    const auto dot = s.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    const auto r = std::from_chars(s.data(), s.data() + dot, layer);
    if (r.ec != std::errc{} || r.ptr != s.data() + dot) return false;
    rest = s.substr(dot + 1);
    return true;
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

class hf_mapper {
public:
    hf_mapper(const std::string& display_name, hf_layout layout) : name_(display_name), layout_(layout) {}

    hf_model_tensors run(const std::vector<tensor_entry>& in) {
        for (const auto& t : in) {
            if (layout_ == hf_layout::fla_rwkv7) map_fla(t);
            else map_transformers(t);
        }
        return std::move(out_);
    }

private:
    unsupported_error unknown(const tensor_entry& t) const {
        return unsupported_error(name_ + ": tensor '" + printable(t.name) + "' is not part of the " +
                                 std::string(hf_layout_name(layout_)) +
                                 " layout this library reads (docs/formats.md, Hugging Face layouts)");
    }

    model_error bad_shape(const tensor_entry& t, const std::string& expected) const {
        return model_error(name_ + ": tensor '" + printable(t.name) + "' has shape " + shape_string(t.shape) +
                           ", expected " + expected);
    }

    void add(const tensor_entry& t, std::string name, std::vector<std::int64_t> shape) {
        tensor_entry e = t;
        e.name = std::move(name);
        e.shape = std::move(shape);
        out_.tensors.push_back(std::move(e));
    }

    void plain(const tensor_entry& t, std::string name) { add(t, std::move(name), t.shape); }

    // A vector of C values ([C], [1, C] or [1, 1, C]) as the official [1, 1, C].
    void channel_vector(const tensor_entry& t, std::string name) {
        if (t.shape.empty() || t.shape.size() > 3 || t.quant_bits != 0) throw bad_shape(t, "[C] or [1, 1, C]");
        for (std::size_t i = 0; i + 1 < t.shape.size(); ++i)
            if (t.shape[i] != 1) throw bad_shape(t, "[C] or [1, 1, C]");
        add(t, std::move(name), {1, 1, t.shape.back()});
    }

    // nn.Linear stores [out, in]; the official LoRA factor is the [in, out] transpose.
    void transposed(const tensor_entry& t, std::string name) {
        if (t.shape.size() != 2 || t.quant_bits != 0) throw bad_shape(t, "2 dimensions (an nn.Linear weight)");
        const auto rows = static_cast<std::size_t>(t.shape[0]), cols = static_cast<std::size_t>(t.shape[1]);
        const std::size_t size = dtype_size(t.type);
        std::vector<std::byte> buf(rows * cols * size);
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j)
                std::memcpy(&buf[(j * rows + i) * size], &t.bytes[(i * cols + j) * size], size);
        out_.owned.push_back(std::move(buf));
        tensor_entry e = t;
        e.name = std::move(name);
        e.shape = {t.shape[1], t.shape[0]};
        e.bytes = out_.owned.back();
        out_.tensors.push_back(std::move(e));
    }

    // fla's first RWKV7Attention stacked the six lerps as x_x [6, C] (its load_state_dict still
    // migrates them): split back into x_r, x_w, x_k, x_v, x_a, x_g, each [1, 1, C].
    void split_lerps(const tensor_entry& t, const std::string& att) {
        static constexpr const char* lerps[] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
        if (t.quant_bits != 0 || t.shape.empty() || t.shape[0] != 6 || t.numel() % 6 != 0) throw bad_shape(t, "[6, C]");
        const auto c = t.numel() / 6;
        const std::size_t stride = static_cast<std::size_t>(c) * dtype_size(t.type);
        for (std::size_t i = 0; i < 6; ++i) {
            tensor_entry e = t;
            e.name = att + lerps[i];
            e.shape = {1, 1, c};
            e.bytes = t.bytes.subspan(i * stride, stride);
            out_.tensors.push_back(std::move(e));
        }
    }

    // ---- fla: model.embeddings / model.layers.N.{pre_norm,attn_norm,attn,ffn_norm,ffn} / model.norm / lm_head
    void map_fla(const tensor_entry& t) {
        const std::string_view n = t.name;
        if (n == "model.embeddings.weight") return plain(t, "emb.weight");
        if (n == "lm_head.weight") return plain(t, "head.weight");
        if (auto rest = strip_prefix(n, "model.norm.")) return plain(t, "ln_out." + std::string(*rest));
        std::size_t layer = 0;
        std::string_view field;
        const auto layers = strip_prefix(n, "model.layers.");
        if (!layers || !split_layer(*layers, layer, field)) throw unknown(t);
        const std::string block = "blocks." + std::to_string(layer) + ".";
        for (auto [from, to] : {std::pair{"pre_norm.", "ln0."}, {"attn_norm.", "ln1."}, {"ffn_norm.", "ln2."}})
            if (auto rest = strip_prefix(field, from)) return plain(t, block + to + std::string(*rest));
        if (auto rest = strip_prefix(field, "ffn.")) {
            if (*rest == "x_k") return channel_vector(t, block + "ffn.x_k");
            if (*rest == "key.weight" || *rest == "value.weight") return plain(t, block + "ffn." + std::string(*rest));
            throw unknown(t);
        }
        const auto attn = strip_prefix(field, "attn.");
        if (!attn) throw unknown(t);
        const std::string att = block + "att.";
        for (auto [from, to] : {std::pair{"r_proj.", "receptance."}, {"k_proj.", "key."}, {"v_proj.", "value."},
                                {"o_proj.", "output."}, {"g_norm.", "ln_x."}})
            if (auto rest = strip_prefix(*attn, from)) return plain(t, att + to + std::string(*rest));
        if (*attn == "x_x") return split_lerps(t, att);
        for (std::string_view v : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "k_k", "k_a"})
            if (*attn == v) return channel_vector(t, att + std::string(v));
        if (*attn == "r_k") return plain(t, att + "r_k");  // [H, N] in both layouts
        // {w,a,v,g}_lora.lora.{0.weight, 2.weight, 2.bias} → {w,a,v,g}{1, 2, 0}
        if (attn->size() > 12 && attn->substr(1, 11) == "_lora.lora.") {
            const char which = (*attn)[0];
            const std::string_view part = attn->substr(12);
            if (which == 'w' || which == 'a' || which == 'v' || which == 'g') {
                const std::string base = att + which;
                if (part == "0.weight") return transposed(t, base + "1");
                if (part == "2.weight") return transposed(t, base + "2");
                if (part == "2.bias") return channel_vector(t, base + "0");
            }
        }
        throw unknown(t);
    }

    // ---- transformers: rwkv.embeddings / rwkv.blocks.N.{pre_ln,ln1,ln2,attention,feed_forward} /
    // rwkv.ln_out / head
    void map_transformers(const tensor_entry& t) {
        const std::string_view n = t.name;
        if (n == "head.weight") return plain(t, "head.weight");
        const auto body = strip_prefix(n, "rwkv.");
        if (!body) throw unknown(t);
        if (auto rest = strip_prefix(*body, "embeddings.")) return plain(t, "emb." + std::string(*rest));
        if (auto rest = strip_prefix(*body, "ln_out.")) return plain(t, "ln_out." + std::string(*rest));
        std::size_t layer = 0;
        std::string_view field;
        const auto blocks = strip_prefix(*body, "blocks.");
        if (!blocks || !split_layer(*blocks, layer, field)) throw unknown(t);
        const std::string block = "blocks." + std::to_string(layer) + ".";
        for (auto [from, to] : {std::pair{"pre_ln.", "ln0."}, {"ln1.", "ln1."}, {"ln2.", "ln2."}})
            if (auto rest = strip_prefix(field, from)) return plain(t, block + to + std::string(*rest));
        std::string part;
        if (auto rest = strip_prefix(field, "attention.")) part = "att." + std::string(*rest);
        else if (auto rest2 = strip_prefix(field, "feed_forward.")) part = "ffn." + std::string(*rest2);
        else throw unknown(t);
        // time_mix_key → time_mix_k, ... (the converters' only other renaming); the same long forms
        // of RWKV-6's time_maa_* are accepted too (a commented-out step of the v6 converter).
        for (std::string_view stem : {".time_mix_", ".time_maa_"})
            for (auto [from, to] : {std::pair{"key", "k"}, {"value", "v"}, {"receptance", "r"}, {"gate", "g"}})
                if (part.ends_with(std::string(stem) + from)) {
                    part.resize(part.size() - std::string_view(from).size());
                    part += to;
                }
        plain(t, block + part);
    }

    const std::string& name_;
    hf_layout layout_;
    hf_model_tensors out_;
};

}  // namespace detail

// The tensors of a Hugging Face layout under official names. `tied_head`: config.json's
// tie_word_embeddings is true and the file has no head (lm_head.weight / head.weight): the head
// then shares the embedding's bytes. Throws unsupported_error for a tensor outside the layout,
// model_error for a tensor whose shape does not fit the mapping.
inline hf_model_tensors hf_official_tensors(const std::vector<tensor_entry>& tensors, hf_layout layout,
                                            const std::string& display_name, bool tied_head = false) {
    auto out = detail::hf_mapper(display_name, layout).run(tensors);
    if (tied_head) {
        const tensor_entry* emb = nullptr;
        bool has_head = false;
        for (const auto& t : out.tensors) {
            if (t.name == "emb.weight") emb = &t;
            if (t.name == "head.weight") has_head = true;
        }
        if (emb != nullptr && !has_head) {
            tensor_entry head = *emb;
            head.name = "head.weight";
            out.tensors.push_back(std::move(head));
        }
    }
    return out;
}

}  // namespace rwkv::io
