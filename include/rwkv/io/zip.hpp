// rwkv/io/zip.hpp — a minimal read-only zip reader over a byte span, enough for torch.save archives.
//
// Reads the central directory (locating it through the End Of Central Directory record, and the Zip64
// EOCD locator/record when present) and hands out the bytes of stored (method 0) entries in place.
// Every offset and size read from the file is checked against the buffer; nothing is decompressed.
// Layout references: PKWARE APPNOTE.TXT sections 4.3.7 (local header), 4.3.12 (central directory
// header), 4.3.14–4.3.16 (Zip64 EOCD record, locator, EOCD) and 4.5.3 (Zip64 extended information).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"

namespace rwkv::io {

struct zip_entry {
    std::string name;
    std::uint16_t method = 0;  // 0 = stored, 8 = deflate, ...
    std::uint16_t flags = 0;   // general purpose bit flags (bit 0: encrypted)
    std::uint64_t compressed_size = 0;
    std::uint64_t uncompressed_size = 0;
    std::uint64_t local_header_offset = 0;
};

// True when the bytes start with a zip local file header signature ("PK\x03\x04").
inline bool looks_like_zip(std::span<const std::byte> data) noexcept {
    return data.size() >= 4 && detail::load_le<std::uint32_t>(data, 0) == 0x04034b50u;
}

// Human name of a zip compression method, for error messages.
inline std::string_view zip_method_name(std::uint16_t method) noexcept {
    switch (method) {
        case 0: return "stored";
        case 1: return "shrink";
        case 6: return "implode";
        case 8: return "deflate";
        case 9: return "deflate64";
        case 12: return "bzip2";
        case 14: return "lzma";
        case 93: return "zstd";
        case 95: return "xz";
        case 98: return "ppmd";
        default: return "unknown";
    }
}

class zip_reader {
public:
    static constexpr std::size_t max_entries = 1'000'000;

    // Parses the central directory. Throws format_error (corrupt or truncated archive) or
    // unsupported_error (multi-disk archives); messages start with `display_name`.
    zip_reader(std::span<const std::byte> data, std::string display_name)
        : data_(data), name_(std::move(display_name)) {
        parse_central_directory();
    }

    const std::string& display_name() const noexcept { return name_; }
    const std::vector<zip_entry>& entries() const noexcept { return entries_; }

    // The entry with exactly this name, or nullptr.
    const zip_entry* find(std::string_view name) const noexcept {
        auto it = std::lower_bound(sorted_.begin(), sorted_.end(), name,
                                   [&](std::size_t i, std::string_view n) { return entries_[i].name < n; });
        if (it == sorted_.end() || entries_[*it].name != name) return nullptr;
        return &entries_[*it];
    }

    // The stored bytes of an entry, in place. Only method 0 (stored) is accepted.
    std::span<const std::byte> entry_data(const zip_entry& e) const {
        if (e.method != 0) {
            throw unsupported_error(name_ + ": zip entry '" + detail::printable(e.name) + "' is compressed (method " +
                                    std::to_string(e.method) + " = " + std::string(zip_method_name(e.method)) +
                                    "); only stored entries are supported — re-save with torch.save (it stores "
                                    "entries uncompressed)");
        }
        if (e.flags & 1u) {
            throw unsupported_error(name_ + ": zip entry '" + detail::printable(e.name) +
                                    "' is encrypted; encrypted archives are not supported");
        }
        if (e.compressed_size != e.uncompressed_size) {
            fail("zip entry '" + detail::printable(e.name) + "' is stored but its compressed size (" +
                 std::to_string(e.compressed_size) + ") differs from its uncompressed size (" +
                 std::to_string(e.uncompressed_size) + ")");
        }
        // Local file header (APPNOTE 4.3.7): 30 fixed bytes, then its own name and extra field.
        const std::uint64_t lh = e.local_header_offset;
        if (!detail::range_fits(lh, 30, data_.size())) {
            fail("zip entry '" + detail::printable(e.name) + "': local header at offset " + std::to_string(lh) +
                 " lies past the end of the file (" + std::to_string(data_.size()) + " bytes)");
        }
        const auto at = static_cast<std::size_t>(lh);
        if (detail::load_le<std::uint32_t>(data_, at) != 0x04034b50u) {
            fail("zip entry '" + detail::printable(e.name) +
                 "': expected a local header signature PK\\x03\\x04 at offset " + std::to_string(lh) +
                 ", found other bytes");
        }
        const auto local_method = detail::load_le<std::uint16_t>(data_, at + 8);
        if (local_method != e.method) {
            if (local_method != 0) {
                throw unsupported_error(name_ + ": zip entry '" + detail::printable(e.name) +
                                        "' is compressed (method " + std::to_string(local_method) + " = " +
                                        std::string(zip_method_name(local_method)) +
                                        " in its local header); only stored entries are supported — re-save with "
                                        "torch.save (it stores entries uncompressed)");
            }
            fail("zip entry '" + detail::printable(e.name) + "': local header says method " +
                 std::to_string(local_method) + ", central directory says " + std::to_string(e.method));
        }
        const std::uint64_t name_len = detail::load_le<std::uint16_t>(data_, at + 26);
        const std::uint64_t extra_len = detail::load_le<std::uint16_t>(data_, at + 28);
        const std::uint64_t start = lh + 30 + name_len + extra_len;  // ≤ 2^64 − 1: lh < size, rest < 2^18
        if (!detail::range_fits(lh + 30, name_len, data_.size()) ||
            detail::as_chars(data_.subspan(at + 30, static_cast<std::size_t>(name_len))) != e.name) {
            fail("zip entry '" + detail::printable(e.name) + "': the local header at offset " + std::to_string(lh) +
                 " names a different entry than the central directory");
        }
        if (!detail::range_fits(start, e.compressed_size, data_.size())) {
            fail("zip entry '" + detail::printable(e.name) + "': data [" + std::to_string(start) + ", +" +
                 std::to_string(e.compressed_size) + ") runs past the end of the file (" +
                 std::to_string(data_.size()) + " bytes)");
        }
        return data_.subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(e.compressed_size));
    }

private:
    [[noreturn]] void fail(const std::string& what) const { throw format_error(name_ + ": " + what); }

    void parse_central_directory() {
        const std::size_t size = data_.size();
        // End Of Central Directory record (APPNOTE 4.3.16): 22 fixed bytes + a comment of ≤ 65535 bytes,
        // so search backwards from the end over at most that window.
        if (size < 22)
            fail("not a valid zip archive: " + std::to_string(size) +
                 " bytes is too short for an end of central directory record");
        std::size_t eocd = size;
        const std::size_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
        for (std::size_t pos = size - 22 + 1; pos-- > lowest;) {
            if (detail::load_le<std::uint32_t>(data_, pos) == 0x06054b50u &&
                pos + 22 + detail::load_le<std::uint16_t>(data_, pos + 20) <= size) {
                eocd = pos;
                break;
            }
        }
        if (eocd == size) fail("not a valid zip archive: no end of central directory record (file truncated?)");

        const auto disk = detail::load_le<std::uint16_t>(data_, eocd + 4);
        const auto cd_disk = detail::load_le<std::uint16_t>(data_, eocd + 6);
        std::uint64_t count_disk = detail::load_le<std::uint16_t>(data_, eocd + 8);
        std::uint64_t count = detail::load_le<std::uint16_t>(data_, eocd + 10);
        std::uint64_t cd_size = detail::load_le<std::uint32_t>(data_, eocd + 12);
        std::uint64_t cd_offset = detail::load_le<std::uint32_t>(data_, eocd + 16);

        // Zip64 EOCD locator (APPNOTE 4.3.15): 20 bytes immediately before the EOCD record. When it is
        // there, the Zip64 EOCD record (4.3.14) holds the authoritative 64-bit counts and offsets.
        if (eocd >= 20 && detail::load_le<std::uint32_t>(data_, eocd - 20) == 0x07064b50u) {
            const std::uint64_t rec = detail::load_le<std::uint64_t>(data_, eocd - 20 + 8);
            if (!detail::range_fits(rec, 56, eocd - 20)) {
                fail("zip64 end of central directory record offset " + std::to_string(rec) + " lies outside the file");
            }
            const auto r = static_cast<std::size_t>(rec);
            if (detail::load_le<std::uint32_t>(data_, r) != 0x06064b50u) {
                fail("expected a zip64 end of central directory signature PK\\x06\\x06 at offset " +
                     std::to_string(rec) + ", found other bytes");
            }
            if (detail::load_le<std::uint32_t>(data_, r + 16) != 0 ||
                detail::load_le<std::uint32_t>(data_, r + 20) != 0) {
                throw unsupported_error(name_ + ": multi-disk (split) zip archives are not supported");
            }
            count_disk = detail::load_le<std::uint64_t>(data_, r + 24);
            count = detail::load_le<std::uint64_t>(data_, r + 32);
            cd_size = detail::load_le<std::uint64_t>(data_, r + 40);
            cd_offset = detail::load_le<std::uint64_t>(data_, r + 48);
        } else if (disk != 0 || cd_disk != 0) {
            throw unsupported_error(name_ + ": multi-disk (split) zip archives are not supported");
        }
        if (count != count_disk) throw unsupported_error(name_ + ": multi-disk (split) zip archives are not supported");
        if (count > max_entries) {
            fail("zip central directory claims " + std::to_string(count) + " entries; at most " +
                 std::to_string(max_entries) + " are accepted");
        }
        if (!detail::range_fits(cd_offset, cd_size, size)) {
            fail("zip central directory [" + std::to_string(cd_offset) + ", +" + std::to_string(cd_size) +
                 ") lies outside the file (" + std::to_string(size) + " bytes; truncated?)");
        }
        if (count > cd_size / 46) {  // each central directory header has 46 fixed bytes
            fail("zip central directory of " + std::to_string(cd_size) + " bytes cannot hold the " +
                 std::to_string(count) + " entries it claims");
        }
        entries_.reserve(static_cast<std::size_t>(count));
        std::size_t pos = static_cast<std::size_t>(cd_offset);
        const std::size_t end = static_cast<std::size_t>(cd_offset + cd_size);
        for (std::uint64_t i = 0; i < count; ++i) {
            // Central directory file header (APPNOTE 4.3.12): 46 fixed bytes, name, extra, comment.
            if (!detail::range_fits(pos, 46, end) || detail::load_le<std::uint32_t>(data_, pos) != 0x02014b50u) {
                fail("zip central directory entry " + std::to_string(i) + " at offset " + std::to_string(pos) +
                     ": expected signature PK\\x01\\x02 inside the central directory, found other bytes");
            }
            zip_entry e;
            e.flags = detail::load_le<std::uint16_t>(data_, pos + 8);
            e.method = detail::load_le<std::uint16_t>(data_, pos + 10);
            e.compressed_size = detail::load_le<std::uint32_t>(data_, pos + 20);
            e.uncompressed_size = detail::load_le<std::uint32_t>(data_, pos + 24);
            const std::size_t name_len = detail::load_le<std::uint16_t>(data_, pos + 28);
            const std::size_t extra_len = detail::load_le<std::uint16_t>(data_, pos + 30);
            const std::size_t comment_len = detail::load_le<std::uint16_t>(data_, pos + 32);
            const std::uint16_t disk_start = detail::load_le<std::uint16_t>(data_, pos + 34);
            e.local_header_offset = detail::load_le<std::uint32_t>(data_, pos + 42);
            if (!detail::range_fits(pos + 46, name_len + extra_len + comment_len, end)) {
                fail("zip central directory entry " + std::to_string(i) +
                     " runs past the end of the central directory");
            }
            e.name = std::string(detail::as_chars(data_.subspan(pos + 46, name_len)));
            read_zip64_extra(e, data_.subspan(pos + 46 + name_len, extra_len), disk_start);
            pos += 46 + name_len + extra_len + comment_len;
            entries_.push_back(std::move(e));
        }

        sorted_.resize(entries_.size());
        for (std::size_t i = 0; i < sorted_.size(); ++i) sorted_[i] = i;
        std::stable_sort(sorted_.begin(), sorted_.end(),
                         [&](std::size_t a, std::size_t b) { return entries_[a].name < entries_[b].name; });
        for (std::size_t i = 1; i < sorted_.size(); ++i) {
            if (entries_[sorted_[i]].name == entries_[sorted_[i - 1]].name) {
                fail("zip archive has two entries named '" + detail::printable(entries_[sorted_[i]].name) + "'");
            }
        }
    }

    // Zip64 extended information extra field (APPNOTE 4.5.3, header id 0x0001): holds, in this order,
    // the 64-bit uncompressed size, compressed size, local header offset and 32-bit disk number —
    // each present only when the 32-bit (16-bit for the disk) central directory field is all ones.
    void read_zip64_extra(zip_entry& e, std::span<const std::byte> extra, std::uint16_t disk_start) const {
        const bool need_usize = e.uncompressed_size == 0xffffffffu;
        const bool need_csize = e.compressed_size == 0xffffffffu;
        const bool need_offset = e.local_header_offset == 0xffffffffu;
        const bool need_disk = disk_start == 0xffffu;
        bool found = false;
        std::size_t p = 0;
        while (p + 4 <= extra.size()) {
            const auto id = detail::load_le<std::uint16_t>(extra, p);
            const std::size_t len = detail::load_le<std::uint16_t>(extra, p + 2);
            if (len > extra.size() - p - 4) {
                fail("zip entry '" + detail::printable(e.name) + "': extra field with header id " + std::to_string(id) +
                     " claims " + std::to_string(len) + " bytes, past the end of the entry's extra data");
            }
            if (id == 0x0001 && !found) {
                found = true;
                const auto field = extra.subspan(p + 4, len);
                std::size_t q = 0;
                auto next64 = [&](std::uint64_t& out) {
                    if (q + 8 > field.size()) {
                        fail("zip entry '" + detail::printable(e.name) + "': zip64 extra field is " +
                             std::to_string(field.size()) + " bytes, too short for the 64-bit values it must hold");
                    }
                    out = detail::load_le<std::uint64_t>(field, q);
                    q += 8;
                };
                if (need_usize) next64(e.uncompressed_size);
                if (need_csize) next64(e.compressed_size);
                if (need_offset) next64(e.local_header_offset);
                if (need_disk) {
                    if (q + 4 > field.size() || detail::load_le<std::uint32_t>(field, q) != 0) {
                        throw unsupported_error(name_ + ": multi-disk (split) zip archives are not supported");
                    }
                }
            }
            p += 4 + len;
        }
        if (!found && (need_usize || need_csize || need_offset)) {
            fail("zip entry '" + detail::printable(e.name) +
                 "': a size or offset is 0xFFFFFFFF but the entry has no zip64 extended information field");
        }
        if (!found && need_disk) throw unsupported_error(name_ + ": multi-disk (split) zip archives are not supported");
    }

    std::span<const std::byte> data_;
    std::string name_;
    std::vector<zip_entry> entries_;
    std::vector<std::size_t> sorted_;  // indices into entries_, by name
};

}  // namespace rwkv::io
