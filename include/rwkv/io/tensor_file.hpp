// rwkv/io/tensor_file.hpp — a loaded checkpoint: the tensors of a .pth (torch.save zip),
// .safetensors, GGUF or rwkv.cpp file, read in place from a memory-mapped file (or caller-owned memory).
//
// The format is detected from the content, not the file name: a zip local header ("PK\x03\x04") is a
// PyTorch checkpoint, an 8-byte length followed by '{' is safetensors, "GGUF" is a llama.cpp file,
// the u32 0x67676d66 ("ggmf") an rwkv.cpp file, a '{' (JSON) a Hugging Face shard index
// (io/hf_index.hpp); a directory is a Hugging Face model folder (model.safetensors[.index.json],
// pytorch_model.bin[.index.json], config.json). A .pth or .safetensors whose tensors follow a Hugging
// Face layout (io/hf_layout.hpp) appears under the official names, with format() "hf-pth" or
// "hf-safetensors"; the tensors of a sharded checkpoint appear as one file.
// tensors() keeps the file's order: the state_dict's insertion order for .pth, the data-offset order
// for .safetensors, the tensor-info order for GGUF. A GGUF file's tensors appear under the official
// names and shapes (io/gguf_rwkv.hpp), as do an rwkv.cpp file's (io/ggmf_rwkv.hpp); those that had
// to be transformed (transposed, dequantized, decays inverted)
// live in memory the tensor_file owns, the others stay in place.
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/ggmf.hpp"
#include "rwkv/io/ggmf_rwkv.hpp"
#include "rwkv/io/gguf.hpp"
#include "rwkv/io/gguf_rwkv.hpp"
#include "rwkv/io/hf_index.hpp"
#include "rwkv/io/hf_layout.hpp"
#include "rwkv/io/mapped_file.hpp"
#include "rwkv/io/pth.hpp"
#include "rwkv/io/quantized_tensors.hpp"
#include "rwkv/io/safetensors.hpp"
#include "rwkv/io/tensor_entry.hpp"
#include "rwkv/io/zip.hpp"

namespace rwkv::io {

class tensor_file {
public:
    // Maps the file and reads its tensor directory. Throws io_error (cannot open/map), format_error,
    // unsupported_error; every message starts with the path as given. `p` may also be a Hugging Face
    // model folder or a shard index (*.index.json): every shard is mapped.
    static tensor_file open(const std::filesystem::path& p) {
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) return open_hf_directory(p);
        auto file = mapped_file::open(p);
        // A safetensors header length may itself start with the byte '{': that test comes first.
        if (!looks_like_safetensors(file.bytes()) && looks_like_json(file.bytes())) return open_hf_index(p, file.bytes());
        return tensor_file(std::move(file), p.string(), true);
    }

    // The same over memory owned by the caller, which must outlive the tensor_file.
    static tensor_file from_memory(std::span<const std::byte> data, std::string display_name) {
        std::string name = display_name;
        return tensor_file(mapped_file::view(data, std::move(display_name)), std::move(name), false);
    }

    tensor_file(tensor_file&&) noexcept = default;
    tensor_file& operator=(tensor_file&&) noexcept = default;
    tensor_file(const tensor_file&) = delete;
    tensor_file& operator=(const tensor_file&) = delete;

    const std::string& display_name() const noexcept { return name_; }
    std::string_view format() const noexcept { return format_; }
    // The Hugging Face layout the tensors were renamed from (hf_layout::none: official names).
    hf_layout source_layout() const noexcept { return layout_; }
    const std::vector<tensor_entry>& tensors() const noexcept { return tensors_; }
    // See mapped_file::drop_pages: for a tensor whose bytes were converted into owned memory.
    void drop_pages(const tensor_entry& e) const noexcept {
        for (const auto& f : files_) f->drop_pages(e.bytes);  // only the file that holds the bytes acts
    }

    const std::map<std::string, std::string, std::less<>>& metadata() const noexcept { return metadata_; }

    // The tensor with this exact name, or nullptr (binary search).
    const tensor_entry* find(std::string_view name) const noexcept {
        auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                                   [&](std::size_t i, std::string_view n) { return tensors_[i].name < n; });
        if (it == by_name_.end() || tensors_[*it].name != name) return nullptr;
        return &tensors_[*it];
    }

    // The tensor with this name; throws model_error("FILE: missing tensor 'NAME'") when absent.
    const tensor_entry& require(std::string_view name) const {
        if (const tensor_entry* t = find(name)) return *t;
        throw model_error(name_ + ": missing tensor '" + detail::printable(name) + "'");
    }

    // The tensors whose names start with `prefix`, with the prefix stripped, as a tensor_file of
    // their own; it shares this file's mapping, which stays valid after *this is gone. Splits a
    // composite checkpoint into its parts (EmbeddingRWKV: "rwkv." backbone and "head." task heads;
    // its reranker: "reranker."). `renames` then maps stripped names to new ones (legacy aliases);
    // a renamed tensor replaces one that already has the new name. Metadata is kept; display_name()
    // becomes "FILE (tensors under 'PREFIX')" so errors still point at the real tensor names.
    tensor_file select_prefix(std::string_view prefix,
                              std::initializer_list<std::pair<std::string_view, std::string_view>> renames = {}) const {
        std::vector<tensor_entry> picked;
        std::vector<char> renamed;              // per picked entry
        std::vector<std::string_view> targets;  // the names renames gave
        for (const auto& t : tensors_) {
            if (!std::string_view(t.name).starts_with(prefix)) continue;
            tensor_entry e = t;
            e.name.erase(0, prefix.size());
            char was_renamed = 0;
            for (const auto& [from, to] : renames) {
                if (e.name != from) continue;
                e.name = std::string(to);
                targets.push_back(to);
                was_renamed = 1;
                break;
            }
            picked.push_back(std::move(e));
            renamed.push_back(was_renamed);
        }
        std::vector<tensor_entry> kept;
        kept.reserve(picked.size());
        for (std::size_t i = 0; i < picked.size(); ++i) {
            // A tensor that already had a rename's target name gives way to the renamed one.
            if (!renamed[i] && std::find(targets.begin(), targets.end(), picked[i].name) != targets.end()) continue;
            kept.push_back(std::move(picked[i]));
        }
        tensor_file out(files_, owned_, name_ + " (tensors under '" + detail::printable(prefix) + "')", format_,
                        std::move(kept), metadata_);
        out.layout_ = layout_;
        return out;
    }

private:
    tensor_file(std::vector<std::shared_ptr<const mapped_file>> files,
                std::vector<std::shared_ptr<const owned_tensor_bytes>> owned, std::string display_name,
                std::string_view format, std::vector<tensor_entry> tensors,
                std::map<std::string, std::string, std::less<>> metadata)
        : files_(std::move(files)),
          owned_(std::move(owned)),
          name_(std::move(display_name)),
          format_(format),
          tensors_(std::move(tensors)),
          metadata_(std::move(metadata)) {
        build_index();
    }

    // What one file holds, before any Hugging Face renaming.
    struct file_contents {
        std::string_view format;
        std::vector<tensor_entry> tensors;
        std::shared_ptr<const owned_tensor_bytes> owned;  // null when every tensor stays in place
        std::map<std::string, std::string, std::less<>> metadata;
    };

    static file_contents read_contents(std::span<const std::byte> data, const std::string& name) {
        file_contents c;
        if (looks_like_zip(data)) {
            c.format = "pth";
            c.tensors = read_pth(data, name, &c.metadata);  // int-list entries become metadata
        } else if (looks_like_ggmf(data)) {
            c.format = "ggmf";
            const auto contents = read_ggmf(data, name);
            auto mapped = ggmf_rwkv_tensors(contents, name);
            c.tensors = std::move(mapped.tensors);
            c.owned = std::make_shared<const owned_tensor_bytes>(std::move(mapped.owned));
            c.metadata = ggmf_metadata(contents, mapped.layout);
        } else if (looks_like_safetensors(data)) {
            c.format = "safetensors";
            auto contents = read_safetensors(data, name);
            c.tensors = std::move(contents.tensors);
            c.metadata = std::move(contents.metadata);
            merge_quantized_tensors(c.tensors, c.metadata, name);
        } else if (looks_like_gguf(data)) {
            c.format = "gguf";
            auto contents = read_gguf(data, name);
            auto mapped = gguf_rwkv_tensors(contents, name);
            c.tensors = std::move(mapped.tensors);
            c.owned = std::make_shared<const owned_tensor_bytes>(std::move(mapped.owned));
            c.metadata = std::move(contents.metadata);
        } else {
            throw format_error(name + ": not a PyTorch checkpoint (.pth zip) or a .safetensors file: " + describe(data));
        }
        return c;
    }

    // on_disk: the file has a real path, so a config.json beside it may be read.
    tensor_file(mapped_file file, std::string display_name, bool on_disk)
        : files_{std::make_shared<const mapped_file>(std::move(file))}, name_(std::move(display_name)) {
        auto c = read_contents(files_.front()->bytes(), name_);
        format_ = c.format;
        tensors_ = std::move(c.tensors);
        if (c.owned) owned_.push_back(std::move(c.owned));
        metadata_ = std::move(c.metadata);
        if (format_ == "pth" || format_ == "safetensors") {
            const auto layout = detect_hf_layout(tensors_);
            if (layout != hf_layout::none) {
                // A lone Hugging Face file: its config.json, when beside it, may tie the head.
                const auto dir = files_.front()->path().parent_path();
                const bool tied = on_disk && read_hf_config(dir).tie_word_embeddings;
                apply_hf_layout(layout, tied);
            }
        }
        build_index();
    }

    // ---- Hugging Face folders and shard indexes (docs/formats.md, "Hugging Face files") -----------

    struct hf_config {
        bool tie_word_embeddings = false;
        std::string architecture;  // architectures[0], empty when absent
    };

    // config.json in `dir`, when present. format_error when it is there but not a JSON object.
    static hf_config read_hf_config(const std::filesystem::path& dir) {
        hf_config cfg;
        const auto p = dir / "config.json";
        std::error_code ec;
        if (!std::filesystem::is_regular_file(p, ec)) return cfg;
        std::ifstream in(p, std::ios::binary);
        const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        nlohmann::json doc;
        try {
            doc = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw format_error(p.string() + ": not valid JSON: " + e.what());
        }
        if (!doc.is_object()) throw format_error(p.string() + ": a model config must be a JSON object");
        if (const auto it = doc.find("tie_word_embeddings"); it != doc.end() && it->is_boolean())
            cfg.tie_word_embeddings = it->get<bool>();
        if (const auto it = doc.find("architectures"); it != doc.end() && it->is_array() && !it->empty() &&
                                                       it->front().is_string())
            cfg.architecture = it->front().get<std::string>();
        return cfg;
    }

    // The architectures (config.json) whose layouts io/hf_layout.hpp reads.
    static bool is_known_hf_architecture(std::string_view a) noexcept {
        for (std::string_view k : {"RWKV7ForCausalLM", "RWKV7Model", "RwkvForCausalLM", "RwkvModel",
                                   "Rwkv5ForCausalLM", "Rwkv5Model", "Rwkv6ForCausalLM", "Rwkv6Model"})
            if (a == k) return true;
        return false;
    }

    static tensor_file open_hf_directory(const std::filesystem::path& dir) {
        for (const char* candidate : {"model.safetensors.index.json", "model.safetensors",
                                      "pytorch_model.bin.index.json", "pytorch_model.bin"}) {
            const auto p = dir / candidate;
            std::error_code ec;
            if (std::filesystem::is_regular_file(p, ec)) return open(p);
        }
        throw io_error(dir.string() +
                       ": a folder holds no model.safetensors, model.safetensors.index.json, pytorch_model.bin or "
                       "pytorch_model.bin.index.json");
    }

    static tensor_file open_hf_index(const std::filesystem::path& index_path, std::span<const std::byte> json) {
        const std::string index_name = index_path.string();
        const auto index =
            parse_hf_index(std::string_view(reinterpret_cast<const char*>(json.data()), json.size()), index_name);
        const auto dir = index_path.parent_path();
        tensor_file out;
        out.name_ = index_name;
        std::map<std::string, std::string, std::less<>> found_in;  // tensor → shard that holds it
        for (const auto& shard : index.shards) {
            const auto shard_path = dir / shard;
            std::shared_ptr<const mapped_file> file;
            try {
                file = std::make_shared<const mapped_file>(mapped_file::open(shard_path));
            } catch (const io_error& e) {
                throw io_error(index_name + ": shard '" + detail::printable(shard) + "' of weight_map: " + e.what());
            }
            auto c = read_contents(file->bytes(), shard_path.string());
            if (c.format != "pth" && c.format != "safetensors")
                throw unsupported_error(shard_path.string() + ": a shard must be a .safetensors or torch.save file, not " +
                                        std::string(c.format));
            if (out.format_.empty()) out.format_ = c.format;
            for (auto& t : c.tensors) {
                const auto [it, fresh] = found_in.emplace(t.name, shard);
                if (!fresh)
                    throw format_error(index_name + ": tensor '" + detail::printable(t.name) + "' is in two shards, '" +
                                       detail::printable(it->second) + "' and '" + detail::printable(shard) + "'");
                out.tensors_.push_back(std::move(t));
            }
            for (auto& [k, v] : c.metadata) out.metadata_.emplace(k, std::move(v));
            if (c.owned) out.owned_.push_back(std::move(c.owned));
            out.files_.push_back(std::move(file));
        }
        for (const auto& [tensor, shard] : index.weight_map) {
            const auto it = found_in.find(tensor);
            if (it == found_in.end())
                throw model_error(index_name + ": tensor '" + detail::printable(tensor) + "' is missing from shard '" +
                                  detail::printable(shard) + "'");
            if (it->second != shard)
                throw model_error(index_name + ": tensor '" + detail::printable(tensor) + "' is listed in shard '" +
                                  detail::printable(shard) + "' but found in '" + detail::printable(it->second) + "'");
        }
        const auto cfg = read_hf_config(dir);
        if (!cfg.architecture.empty() && !is_known_hf_architecture(cfg.architecture))
            throw unsupported_error((dir / "config.json").string() + ": architecture '" +
                                    detail::printable(cfg.architecture, 60) +
                                    "' is not a layout this library reads (RWKV7ForCausalLM, RwkvForCausalLM, "
                                    "Rwkv5ForCausalLM, Rwkv6ForCausalLM)");
        const auto layout = detect_hf_layout(out.tensors_);
        if (layout != hf_layout::none) {
            out.apply_hf_layout(layout, cfg.tie_word_embeddings);
        } else if (std::none_of(out.tensors_.begin(), out.tensors_.end(),
                                [](const tensor_entry& t) { return t.name == "emb.weight"; })) {
            throw unsupported_error(index_name + ": unknown tensor layout (first tensor '" +
                                    (out.tensors_.empty() ? std::string() : detail::printable(out.tensors_[0].name)) +
                                    "'): neither the official RWKV names nor a Hugging Face layout (fla "
                                    "model.embeddings.weight, transformers rwkv.embeddings.weight)");
        }
        out.build_index();
        return out;
    }

    // Renames (and where needed transposes) the tensors of a Hugging Face layout into the official ones.
    void apply_hf_layout(hf_layout layout, bool tied_head) {
        auto mapped = hf_official_tensors(tensors_, layout, name_, tied_head);
        tensors_ = std::move(mapped.tensors);
        if (!mapped.owned.empty()) owned_.push_back(std::make_shared<const owned_tensor_bytes>(std::move(mapped.owned)));
        format_ = format_ == "pth" ? "hf-pth" : "hf-safetensors";
        layout_ = layout;
    }

    tensor_file() = default;

    // by_name_ sorted by name; two tensors of one name are a format_error.
    void build_index() {
        by_name_.resize(tensors_.size());
        for (std::size_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
        std::sort(by_name_.begin(), by_name_.end(),
                  [&](std::size_t a, std::size_t b) { return tensors_[a].name < tensors_[b].name; });
        for (std::size_t i = 1; i < by_name_.size(); ++i) {
            if (tensors_[by_name_[i]].name == tensors_[by_name_[i - 1]].name) {
                throw format_error(name_ + ": two tensors are named '" + detail::printable(tensors_[by_name_[i]].name) +
                                   "'");
            }
        }
    }

    // What the first bytes look like, for the "unknown format" message.
    static std::string describe(std::span<const std::byte> data) {
        if (data.empty()) return "the file is empty";
        // A pre-1.6 torch.save file is a bare pickle stream starting with PROTO 2 and a LONG1 magic.
        if (data.size() >= 3 && data[0] == std::byte{0x80} && data[2] == std::byte{0x8a}) {
            return "it is a raw pickle stream (the legacy torch.save format of torch < 1.6); load it with torch and "
                   "re-save it with a current torch.save or as safetensors";
        }
        std::string s =
            "expected a zip header \"PK\\x03\\x04\", an 8-byte length followed by '{', the GGUF magic \"GGUF\" or "
            "rwkv.cpp's magic 0x67676d66, found bytes";
        for (std::size_t i = 0; i < data.size() && i < 12; ++i) {
            s += ' ';
            s += detail::hex_byte(std::to_integer<std::uint8_t>(data[i]));
        }
        if (data.size() > 12) s += " ...";
        return s + " (" + std::to_string(data.size()) + " bytes)";
    }

    std::vector<std::shared_ptr<const mapped_file>> files_;  // one per shard; shared by select_prefix()'s files
    std::vector<std::shared_ptr<const owned_tensor_bytes>> owned_;  // transformed tensors; shared the same way
    std::string name_;
    std::string_view format_;
    hf_layout layout_ = hf_layout::none;
    std::vector<tensor_entry> tensors_;
    std::vector<std::size_t> by_name_;  // indices into tensors_, sorted by name
    std::map<std::string, std::string, std::less<>> metadata_;
};

}  // namespace rwkv::io
