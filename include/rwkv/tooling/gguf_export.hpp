// rwkv/tooling/gguf_export.hpp — writes an RWKV-7 checkpoint as a GGUF file under llama.cpp's
// names and metadata (`rwkv-cli convert --to gguf`): the inverse of io/gguf_rwkv.hpp's mapping, laid
// out as llama.cpp's own converter lays it out, so our reader and llama.cpp's read it.
//
// What is written (docs/formats.md, "Writing GGUF"):
//   * emb.weight → token_embd.weight, head.weight → output.weight, ln0 → token_embd_norm, ln1/ln2 →
//     blk.N.attn_norm / attn_norm_2, ln_out → output_norm, att.ln_x → time_mix_ln, att.* matrices →
//     time_mix_*, ffn.* → channel_mix_*; dimensions innermost first (PyTorch's order reversed);
//   * the six token-shift lerps x_r, x_w, x_k, x_v, x_a, x_g fused into time_mix_lerp_fused [C,1,1,6];
//   * the [1,1,C] vectors flattened to [C], r_k [H, N] flattened to [C];
//   * the LoRA factors w1/w2, a1/a2, v1/v2, g1/g2 stored transposed, as llama.cpp expects them;
//   * layer 0's v0/v1/v2, which layer 0 never uses: copies of a0/a1/a2, as llama.cpp's converter
//     writes them (its loader wants them in every layer);
//   * metadata: general.architecture = rwkv7, rwkv7.{context_length, embedding_length, block_count,
//     attention.layer_norm_epsilon, wkv.head_size, attention.*_lora_rank, feed_forward_length,
//     attention.head_count}, general.file_type, and a vocabulary: the World vocabulary given (as
//     llama.cpp's converter writes one: tokenizer.ggml.model = rwkv, tokens[0] = "<s>", each token's
//     bytes escaped as Python writes a bytes literal, ids without a token "[PADn]" of type 4), else the
//     source's tokenizer.* entries when it is a GGUF that has them.
// Storage: f32 writes every tensor F32 (bitwise the source's values when the source is f32, exact
// widening from bf16/f16); f16 / bf16 store the 2-D matrices (but the decay LoRA w1/w2, kept F32 like
// llama.cpp's converter does) rounded to nearest, every vector F32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/ggml_types.hpp"
#include "rwkv/io/gguf_write.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/text/world_tokenizer.hpp"

namespace rwkv {

namespace gguf_export_detail {

class writer {
public:
    writer(const io::tensor_file& src, dtype storage) : src_(src), storage_(storage) {}

    std::vector<io::gguf_tensor_to_write> tensors;

    // The source tensor as f32 values, with its shape.
    std::vector<float> values(const std::string& name, std::vector<std::int64_t>* shape = nullptr) const {
        const io::tensor_entry& t = src_.require(name);
        if (t.quant_bits != 0 || (t.type != dtype::f32 && t.type != dtype::f16 && t.type != dtype::bf16))
            throw unsupported_error(src_.display_name() + ": tensor '" + name + "' is stored as " +
                                    (t.quant_bits ? "int" + std::to_string(t.quant_bits) + " blocks"
                                                  : std::string(dtype_name(t.type))) +
                                    "; GGUF output is written from f32, f16 or bf16 tensors (convert the original checkpoint)");
        std::vector<float> out(static_cast<std::size_t>(t.numel()));
        const std::uint32_t type = t.type == dtype::f32 ? io::ggml_type::f32
                                 : t.type == dtype::f16 ? io::ggml_type::f16
                                                        : io::ggml_type::bf16;
        io::ggml_to_f32(type, t.bytes.data(), out.size(), out.data());
        if (shape) *shape = t.shape;
        return out;
    }

    void add(std::string name, std::vector<std::int64_t> ne, const std::vector<float>& v, bool matrix) {
        io::gguf_tensor_to_write t;
        t.name = std::move(name);
        t.ne = std::move(ne);
        const dtype type = matrix ? storage_ : dtype::f32;
        t.type = type == dtype::f16 ? io::ggml_type::f16 : type == dtype::bf16 ? io::ggml_type::bf16 : io::ggml_type::f32;
        t.bytes.resize(v.size() * dtype_size(type));
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (type == dtype::f32) {
                std::memcpy(&t.bytes[4 * i], &v[i], 4);
            } else {
                const std::uint16_t b = type == dtype::f16 ? f16::from_float(v[i]).bits : bf16::from_float(v[i]).bits;
                std::memcpy(&t.bytes[2 * i], &b, 2);
            }
        }
        tensors.push_back(std::move(t));
    }

    // A tensor with its dimensions reversed (a matrix in the storage type, a vector in f32).
    void plain(const std::string& from, std::string to) {
        std::vector<std::int64_t> shape;
        const auto v = values(from, &shape);
        const bool matrix = shape.size() >= 2 && shape[0] > 1 && shape[1] > 1;
        add(std::move(to), {shape.rbegin(), shape.rend()}, v, matrix);
    }

    // Any shape flattened to one dimension (per-channel vectors, r_k), f32.
    void flat(const std::string& from, std::string to) {
        const auto v = values(from);
        add(std::move(to), {static_cast<std::int64_t>(v.size())}, v, false);
    }

    // A 2-D LoRA factor, official [a, b]: written as its [b, a] transpose (GGUF ne [a, b]).
    void transposed(const std::string& from, std::string to, bool keep_f32) {
        std::vector<std::int64_t> shape;
        const auto v = values(from, &shape);
        if (shape.size() != 2)
            throw model_error(src_.display_name() + ": tensor '" + from + "' has " + std::to_string(shape.size()) +
                              " dimensions, expected 2");
        const auto a = static_cast<std::size_t>(shape[0]), b = static_cast<std::size_t>(shape[1]);
        std::vector<float> t(v.size());
        for (std::size_t i = 0; i < a; ++i)
            for (std::size_t j = 0; j < b; ++j) t[j * a + i] = v[i * b + j];
        add(std::move(to), {shape[0], shape[1]}, t, !keep_f32);
    }

    std::int64_t dim(const std::string& name, std::size_t i) const {
        const auto& s = src_.require(name).shape;
        if (i >= s.size())
            throw model_error(src_.display_name() + ": tensor '" + name + "' has too few dimensions");
        return s[i];
    }

private:
    const io::tensor_file& src_;
    dtype storage_;
};

// A token's bytes as llama.cpp's converter writes them (a Python bytes literal without b'...'); the
// inverse of text::detail::unescape_gguf_rwkv_token.
inline std::string escape_token(std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\\') out += "\\\\";
        else if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (u >= 0x20 && u < 0x7f) out += c;
        else {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

}  // namespace gguf_export_detail

// Writes `src` (an RWKV-7 checkpoint under the official names, from any reader) as a GGUF file;
// `storage` f32, f16 or bf16 (see above). unsupported_error for other architectures, for a source
// whose matrices are block-quantized or whose embedding has ln0 folded in (our converted files),
// and for other storage types; model_error for missing tensors; io_error when writing fails.
// `vocab`, when given, is written as the file's vocabulary (invalid_argument when it has more ids
// than the model's embedding rows).
inline void write_rwkv7_gguf(const io::tensor_file& src, const std::filesystem::path& out, dtype storage,
                             const text::world_tokenizer* vocab = nullptr) {
    const std::string& shown = src.display_name();
    if (storage != dtype::f32 && storage != dtype::f16 && storage != dtype::bf16)
        throw unsupported_error("convert: GGUF output stores f32, f16 or bf16 weights, not " +
                                std::string(dtype_name(storage)));
    const architecture arch = detect_architecture(src);
    if (arch != architecture::rwkv7)
        throw unsupported_error(shown + ": GGUF output is written for RWKV-7 models (llama.cpp architecture rwkv7); "
                                "this is " + std::string(architecture_name(arch)));
    if (const auto it = src.metadata().find("rwkv.emb_ln0_folded"); it != src.metadata().end() && it->second == "true")
        throw unsupported_error(shown + ": the embedding has ln0 folded in (a file written by convert); convert the "
                                "original checkpoint to GGUF instead");

    gguf_export_detail::writer w(src, storage);
    std::size_t n_layer = 0;
    while (src.find("blocks." + std::to_string(n_layer) + ".ln1.weight")) ++n_layer;
    const std::int64_t C = w.dim("emb.weight", 1);
    const std::int64_t N = w.dim("blocks.0.att.r_k", 1);

    w.plain("emb.weight", "token_embd.weight");
    w.plain("blocks.0.ln0.weight", "token_embd_norm.weight");
    w.plain("blocks.0.ln0.bias", "token_embd_norm.bias");
    for (std::size_t l = 0; l < n_layer; ++l) {
        const std::string b = "blocks." + std::to_string(l) + ".", g = "blk." + std::to_string(l) + ".";
        for (const char* p : {"weight", "bias"}) {
            w.plain(b + "ln1." + p, g + "attn_norm." + p);
            w.plain(b + "ln2." + p, g + "attn_norm_2." + p);
        }
        // The six lerps, in llama.cpp's order, as one [C, 1, 1, 6] tensor.
        std::vector<float> fused;
        for (const char* x : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) {
            const auto v = w.values(b + "att." + x);
            if (static_cast<std::int64_t>(v.size()) != C)
                throw model_error(shown + ": tensor '" + b + "att." + x + "' has " + std::to_string(v.size()) +
                                  " elements, expected " + std::to_string(C));
            fused.insert(fused.end(), v.begin(), v.end());
        }
        w.add(g + "time_mix_lerp_fused.weight", {C, 1, 1, 6}, fused, false);
        w.transposed(b + "att.w1", g + "time_mix_w1.weight", true);
        w.transposed(b + "att.w2", g + "time_mix_w2.weight", true);
        w.flat(b + "att.w0", g + "time_mix_w0.weight");
        // Layer 0's value-residual parameters are unused; llama.cpp's loader wants them all the same,
        // and its converter writes copies of a0/a1/a2 there whatever the source holds.
        const std::string vsrc = l == 0 ? "att.a" : "att.v";
        w.transposed(b + vsrc + "1", g + "time_mix_v1.weight", false);
        w.transposed(b + "att.a1", g + "time_mix_a1.weight", false);
        w.transposed(b + vsrc + "2", g + "time_mix_v2.weight", false);
        w.transposed(b + "att.a2", g + "time_mix_a2.weight", false);
        w.flat(b + vsrc + "0", g + "time_mix_v0.weight");
        w.flat(b + "att.a0", g + "time_mix_a0.weight");
        w.transposed(b + "att.g1", g + "time_mix_g1.weight", false);
        w.transposed(b + "att.g2", g + "time_mix_g2.weight", false);
        w.flat(b + "att.k_k", g + "time_mix_k_k.weight");
        w.flat(b + "att.k_a", g + "time_mix_k_a.weight");
        w.flat(b + "att.r_k", g + "time_mix_r_k.weight");
        for (const char* m : {"receptance", "key", "value", "output"})
            w.plain(b + "att." + m + ".weight", g + "time_mix_" + m + ".weight");
        w.plain(b + "att.ln_x.weight", g + "time_mix_ln.weight");
        w.plain(b + "att.ln_x.bias", g + "time_mix_ln.bias");
        w.flat(b + "ffn.x_k", g + "channel_mix_lerp_k.weight");
        w.plain(b + "ffn.key.weight", g + "channel_mix_key.weight");
        w.plain(b + "ffn.value.weight", g + "channel_mix_value.weight");
    }
    w.plain("ln_out.weight", "output_norm.weight");
    w.plain("ln_out.bias", "output_norm.bias");
    w.plain("head.weight", "output.weight");

    auto u32 = [](std::int64_t v) { return io::gguf_metadata_value(static_cast<std::uint32_t>(v)); };
    const std::string last = "blocks." + std::to_string(n_layer - 1) + ".att.";
    std::vector<std::pair<std::string, io::gguf_metadata_value>> md{
        {"general.architecture", std::string("rwkv7")},
        {"general.type", std::string("model")},
        {"general.name", std::filesystem::path(shown).stem().string()},
        {"rwkv7.context_length", u32(1048576)},
        {"rwkv7.embedding_length", u32(C)},
        {"rwkv7.block_count", u32(static_cast<std::int64_t>(n_layer))},
        {"rwkv7.attention.layer_norm_epsilon", 1e-5f},
        {"rwkv7.wkv.head_size", u32(N)},
        {"rwkv7.attention.decay_lora_rank", u32(w.dim(last + "w1", 1))},
        {"rwkv7.attention.iclr_lora_rank", u32(w.dim(last + "a1", 1))},
        {"rwkv7.attention.value_residual_mix_lora_rank",
         u32(w.dim(last + (src.find(last + "v1") ? "v1" : "a1"), 1))},
        {"rwkv7.attention.gate_lora_rank", u32(w.dim(last + "g1", 1))},
        {"rwkv7.feed_forward_length", u32(w.dim("blocks.0.ffn.key.weight", 0))},
        {"general.file_type", u32(storage == dtype::f32 ? 0 : storage == dtype::f16 ? 1 : 32)},
        {"rwkv7.attention.head_count", u32(0)},
        {"general.quantization_version", u32(2)}};
    // A GGUF source's vocabulary goes along (the typed values as llama.cpp writes them).
    const auto& smd = src.metadata();
    auto text = [&](const char* k) -> const std::string* {
        const auto it = smd.find(k);
        return it == smd.end() ? nullptr : &it->second;
    };
    if (vocab) {
        const std::int64_t n_vocab = w.dim("emb.weight", 0);
        if (vocab->vocab_size() > n_vocab)
            throw invalid_argument("convert: vocabulary " + vocab->display_name() + " has ids up to " +
                                   std::to_string(vocab->vocab_size() - 1) + " but the model has " +
                                   std::to_string(n_vocab) + " embedding rows");
        std::vector<std::string> tokens{"<s>"};
        std::vector<std::int32_t> types{3};  // control
        for (std::int32_t id = 1; id < static_cast<std::int32_t>(n_vocab); ++id) {
            const bool has = vocab->has_token(id);
            tokens.push_back(has ? gguf_export_detail::escape_token(vocab->token_bytes(id))
                                 : "[PAD" + std::to_string(id) + "]");
            types.push_back(has ? 1 : 4);  // normal, user-defined
        }
        md.emplace_back("tokenizer.ggml.model", std::string("rwkv"));
        md.emplace_back("tokenizer.ggml.tokens", std::move(tokens));
        md.emplace_back("tokenizer.ggml.token_type", std::move(types));
        md.emplace_back("tokenizer.ggml.bos_token_id", std::uint32_t{0});
        md.emplace_back("tokenizer.ggml.eos_token_id", std::uint32_t{0});
        md.emplace_back("tokenizer.chat_template", std::string("rwkv-world"));
        io::write_gguf(out, md, w.tensors);
        return;
    }
    try {
        if (const auto* m = text("tokenizer.ggml.model")) md.emplace_back("tokenizer.ggml.model", *m);
        if (const auto* t = text("tokenizer.ggml.tokens"))
            md.emplace_back("tokenizer.ggml.tokens", nlohmann::json::parse(*t).get<std::vector<std::string>>());
        if (const auto* t = text("tokenizer.ggml.token_type"))
            md.emplace_back("tokenizer.ggml.token_type", nlohmann::json::parse(*t).get<std::vector<std::int32_t>>());
        for (const char* k : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"})
            if (const auto* v = text(k)) md.emplace_back(k, static_cast<std::uint32_t>(std::stoul(*v)));
        if (const auto* c = text("tokenizer.chat_template")) md.emplace_back("tokenizer.chat_template", *c);
    } catch (const std::exception& e) {
        throw format_error(shown + ": GGUF tokenizer metadata cannot be carried over: " + e.what());
    }
    io::write_gguf(out, md, w.tensors);
}

}  // namespace rwkv
