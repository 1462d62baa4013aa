// rwkv/io/read_file.hpp — a whole small file (vocabulary, tokenizer.json, config, state) as bytes.
#pragma once

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "rwkv/core/error.hpp"

namespace rwkv::io {

// Reads all of `path`. `what` names the file's role in errors ("World vocabulary", "state file"):
// io_error "cannot open <what> <path>: <reason>" (a directory, a missing or unreadable file) or
// "cannot read <what> <path>" when reading fails part-way.
inline std::string read_file(const std::filesystem::path& path, const std::string& what) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw io_error("cannot read " + what + " " + path.string() + ": it is a directory");
    errno = 0;
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        const int err = errno;
        throw io_error("cannot open " + what + " " + path.string() + ": " +
                       (err != 0 ? std::strerror(err) : "open failed"));
    }
    std::string contents{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    if (f.bad()) throw io_error("cannot read " + what + " " + path.string());
    return contents;
}

}  // namespace rwkv::io
