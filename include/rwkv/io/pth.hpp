// rwkv/io/pth.hpp — reader for PyTorch checkpoints saved by torch.save (the zip container format of
// torch ≥ 1.6) holding a state_dict of dense, contiguous f32/bf16/f16 tensors.
//
// Archive layout: <prefix>/data.pkl (the pickled dict), <prefix>/data/<key> (one stored entry of raw
// little-endian bytes per storage), optionally <prefix>/byteorder ("little") and <prefix>/version. The
// prefix is whatever folder holds data.pkl (the file stem, "archive", ...). Tensors come back in the
// pickle's dict order with their bytes in place inside the archive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"
#include "rwkv/io/pickle.hpp"
#include "rwkv/io/tensor_entry.hpp"
#include "rwkv/io/zip.hpp"

namespace rwkv::io {

namespace detail {

inline std::string dims_string(const std::vector<std::int64_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

}  // namespace detail

// Reads the state_dict of a torch.save zip. Throws format_error (corrupt archive or pickle, storage
// too small, missing entries), unsupported_error (compressed entries, big-endian data, non-contiguous
// tensors, other element types); messages start with `display_name`.
inline std::vector<tensor_entry> read_pth(std::span<const std::byte> data, const std::string& display_name,
                                          std::map<std::string, std::string, std::less<>>* extras = nullptr) {
    auto fail = [&](const std::string& what) -> format_error { return format_error(display_name + ": " + what); };
    const zip_reader zip(data, display_name);

    // data.pkl may sit in any top folder; exactly one is expected.
    const zip_entry* pkl = nullptr;
    for (const auto& e : zip.entries()) {
        const std::string_view n = e.name;
        if (n == "data.pkl" || (n.size() > 9 && n.substr(n.size() - 9) == "/data.pkl")) {
            if (pkl != nullptr) {
                throw fail("archive holds two pickles, '" + detail::printable(pkl->name) + "' and '" +
                           detail::printable(e.name) + "'; expected one <folder>/data.pkl");
            }
            pkl = &e;
        }
    }
    if (pkl == nullptr) throw fail("not a torch.save checkpoint: the zip archive has no data.pkl entry");
    const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // keeps the trailing '/'

    // <prefix>/byteorder (torch ≥ 1.13) records the writer's endianness; older files are little-endian.
    if (const zip_entry* bo = zip.find(prefix + "byteorder")) {
        std::string_view order = detail::as_chars(zip.entry_data(*bo));
        while (!order.empty() && (order.back() == '\n' || order.back() == '\r' || order.back() == ' '))
            order.remove_suffix(1);
        if (order == "big")
            throw unsupported_error(display_name +
                                    ": checkpoint was saved big-endian; only little-endian checkpoints are supported");
        if (order != "little")
            throw fail("byteorder entry must say 'little' or 'big', found '" + detail::printable(order, 32) + "'");
    }

    const auto pickled = unpickle_state_dict(zip.entry_data(*pkl), display_name, extras);
    std::vector<tensor_entry> out;
    out.reserve(pickled.size());
    for (const auto& p : pickled) {
        const std::string shown = "tensor '" + detail::printable(p.name) + "'";
        const auto numel = detail::checked_numel(p.size);
        if (!numel) {
            throw fail(shown + ": size " + detail::dims_string(p.size) +
                       " has a negative dimension or more elements than fit in 64 bits");
        }
        // Row-major contiguity (torch's is_contiguous): every dimension longer than 1 has the stride
        // equal to the product of the later dimensions; empty tensors are contiguous.
        if (*numel > 0) {
            std::int64_t expected = 1;
            for (std::size_t d = p.size.size(); d-- > 0;) {
                if (p.size[d] != 1 && p.stride[d] != expected) {
                    throw unsupported_error(display_name + ": " + shown + " is not contiguous (size " +
                                            detail::dims_string(p.size) + ", stride " + detail::dims_string(p.stride) +
                                            "); save it with .contiguous()");
                }
                expected *= p.size[d];  // ≤ numel: no overflow
            }
        }
        const std::string entry_name = prefix + "data/" + p.storage_key;
        const zip_entry* blob = zip.find(entry_name);
        if (blob == nullptr) {
            throw fail(shown + ": its storage '" + detail::printable(p.storage_key) + "' (zip entry '" +
                       detail::printable(entry_name) + "') is missing from the archive");
        }
        const auto bytes = zip.entry_data(*blob);
        const auto elem = static_cast<std::int64_t>(dtype_size(p.type));
        const auto held = static_cast<std::int64_t>(bytes.size()) / elem;
        if (p.storage_numel > held) {
            throw fail(shown + ": storage '" + detail::printable(p.storage_key) + "' declares " +
                       std::to_string(p.storage_numel) + " " + std::string(dtype_name(p.type)) +
                       " elements but zip entry '" + detail::printable(entry_name) + "' holds " +
                       std::to_string(bytes.size()) + " bytes");
        }
        if (p.storage_offset > p.storage_numel || *numel > p.storage_numel - p.storage_offset) {
            throw fail(shown + ": size " + detail::dims_string(p.size) + " needs " + std::to_string(*numel) +
                       " elements starting at element " + std::to_string(p.storage_offset) + " of storage '" +
                       detail::printable(p.storage_key) + "', which holds " + std::to_string(p.storage_numel));
        }
        tensor_entry t;
        t.name = p.name;
        t.type = p.type;
        t.shape = p.size;
        t.bytes =
            bytes.subspan(static_cast<std::size_t>(p.storage_offset * elem), static_cast<std::size_t>(*numel * elem));
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace rwkv::io
