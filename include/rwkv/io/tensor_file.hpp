// rwkv/io/tensor_file.hpp — a loaded checkpoint: the tensors of a .pth (torch.save zip),
// .safetensors, GGUF or rwkv.cpp file, read in place from a memory-mapped file (or caller-owned memory).
//
// The format is detected from the content, not the file name: a zip local header ("PK\x03\x04") is a
// PyTorch checkpoint, an 8-byte length followed by '{' is safetensors, "GGUF" is a llama.cpp file,
// the u32 0x67676d66 ("ggmf") an rwkv.cpp file.
// tensors() keeps the file's order: the state_dict's insertion order for .pth, the data-offset order
// for .safetensors, the tensor-info order for GGUF. A GGUF file's tensors appear under the official
// names and shapes (io/gguf_rwkv.hpp), as do an rwkv.cpp file's (io/ggmf_rwkv.hpp); those that had
// to be transformed (transposed, dequantized, decays inverted)
// live in memory the tensor_file owns, the others stay in place.
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
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
    // unsupported_error; every message starts with the path as given.
    static tensor_file open(const std::filesystem::path& p) { return tensor_file(mapped_file::open(p), p.string()); }

    // The same over memory owned by the caller, which must outlive the tensor_file.
    static tensor_file from_memory(std::span<const std::byte> data, std::string display_name) {
        std::string name = display_name;
        return tensor_file(mapped_file::view(data, std::move(display_name)), std::move(name));
    }

    tensor_file(tensor_file&&) noexcept = default;
    tensor_file& operator=(tensor_file&&) noexcept = default;
    tensor_file(const tensor_file&) = delete;
    tensor_file& operator=(const tensor_file&) = delete;

    const std::string& display_name() const noexcept { return name_; }
    std::string_view format() const noexcept { return format_; }
    const std::vector<tensor_entry>& tensors() const noexcept { return tensors_; }
    // See mapped_file::drop_pages: for a tensor whose bytes were converted into owned memory.
    void drop_pages(const tensor_entry& e) const noexcept {
        if (file_) file_->drop_pages(e.bytes);
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
        return tensor_file(file_, owned_, name_ + " (tensors under '" + detail::printable(prefix) + "')", format_,
                           std::move(kept), metadata_);
    }

private:
    tensor_file(std::shared_ptr<const mapped_file> file, std::shared_ptr<const owned_tensor_bytes> owned,
                std::string display_name, std::string_view format, std::vector<tensor_entry> tensors,
                std::map<std::string, std::string, std::less<>> metadata)
        : file_(std::move(file)),
          owned_(std::move(owned)),
          name_(std::move(display_name)),
          format_(format),
          tensors_(std::move(tensors)),
          metadata_(std::move(metadata)) {
        build_index();
    }

    tensor_file(mapped_file file, std::string display_name)
        : file_(std::make_shared<const mapped_file>(std::move(file))), name_(std::move(display_name)) {
        const auto data = file_->bytes();
        if (looks_like_zip(data)) {
            format_ = "pth";
            tensors_ = read_pth(data, name_, &metadata_);  // int-list entries become metadata
        } else if (looks_like_ggmf(data)) {
            format_ = "ggmf";
            const auto contents = read_ggmf(data, name_);
            auto mapped = ggmf_rwkv_tensors(contents, name_);
            tensors_ = std::move(mapped.tensors);
            owned_ = std::make_shared<const owned_tensor_bytes>(std::move(mapped.owned));
            metadata_ = ggmf_metadata(contents, mapped.layout);
        } else if (looks_like_safetensors(data)) {
            format_ = "safetensors";
            auto contents = read_safetensors(data, name_);
            tensors_ = std::move(contents.tensors);
            metadata_ = std::move(contents.metadata);
            merge_quantized_tensors(tensors_, metadata_, name_);
        } else if (looks_like_gguf(data)) {
            format_ = "gguf";
            auto contents = read_gguf(data, name_);
            auto mapped = gguf_rwkv_tensors(contents, name_);
            tensors_ = std::move(mapped.tensors);
            owned_ = std::make_shared<const owned_tensor_bytes>(std::move(mapped.owned));
            metadata_ = std::move(contents.metadata);
        } else {
            throw format_error(name_ +
                               ": not a PyTorch checkpoint (.pth zip) or a .safetensors file: " + describe(data));
        }
        build_index();
    }

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

    std::shared_ptr<const mapped_file> file_;  // shared by the files select_prefix() makes
    std::shared_ptr<const owned_tensor_bytes> owned_;  // transformed GGUF tensors; shared the same way
    std::string name_;
    std::string_view format_;
    std::vector<tensor_entry> tensors_;
    std::vector<std::size_t> by_name_;  // indices into tensors_, sorted by name
    std::map<std::string, std::string, std::less<>> metadata_;
};

}  // namespace rwkv::io
