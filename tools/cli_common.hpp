// tools/cli_common.hpp — what every rwkv-cli command shares: exit codes, reading token files,
// atomic output files, argument checks. Included once, by rwkv-cli.cpp and its command headers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rwkv/core/error.hpp"
#include "rwkv/io/read_file.hpp"

namespace rwkv_cli {

namespace fs = std::filesystem;


// Exit codes (docs/errors.md).
enum exit_code : int {
    exit_ok = 0,
    exit_other = 1,
    exit_usage = 2,        // bad command line or invalid argument
    exit_io = 3,           // file missing / unreadable / unwritable
    exit_format = 4,       // malformed file
    exit_model = 5,        // tensors do not form a model we know
    exit_unsupported = 6,  // valid request this build cannot serve
    exit_state = 7,        // bad or mismatched state file
};

std::string read_text_file(const fs::path& p) { return rwkv::io::read_file(p, "file"); }

// A JSON array of integer token ids.
std::vector<std::int32_t> read_tokens_json(const fs::path& p) {
    const std::string text = read_text_file(p);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw rwkv::format_error(p.string() + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!j.is_array()) throw rwkv::format_error(p.string() + ": expected a JSON array of token ids");
    std::vector<std::int32_t> out;
    out.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) {
        const auto& v = j[i];
        if (!v.is_number_integer())
            throw rwkv::format_error(p.string() + ": element " + std::to_string(i) + " is not an integer token id");
        const auto id = v.get<std::int64_t>();
        if (id < 0 || id > INT32_MAX)
            throw rwkv::invalid_argument(p.string() + ": token id " + std::to_string(id) + " at position " +
                                         std::to_string(i) + " is out of range");
        out.push_back(static_cast<std::int32_t>(id));
    }
    return out;
}

// Writes bytes to `path` through a temporary file in the same folder and a rename.
void write_atomically(const fs::path& path, const void* data, std::size_t size) {
    fs::path tmp = path;
    tmp += ".tmp-rwkv-cli";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw rwkv::io_error(path.string() + ": cannot write");
        f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
        f.flush();
        if (!f) {
            std::error_code ec;
            fs::remove(tmp, ec);
            throw rwkv::io_error(path.string() + ": write failed");
        }
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw rwkv::io_error(path.string() + ": cannot move output into place (" + ec.message() + ")");
    }
}

// The exit code (docs/errors.md) of the exception being handled; call it only inside a catch block.
inline int exit_code_of_current_exception() {
    try {
        throw;
    } catch (const rwkv::invalid_argument&) {
        return exit_usage;
    } catch (const rwkv::io_error&) {
        return exit_io;
    } catch (const rwkv::format_error&) {
        return exit_format;
    } catch (const rwkv::model_error&) {
        return exit_model;
    } catch (const rwkv::unsupported_error&) {
        return exit_unsupported;
    } catch (const rwkv::state_error&) {
        return exit_state;
    } catch (...) {
        return exit_other;
    }
}

// "rwkv-cli: error: <message>" as one line on stderr (line breaks in the message become spaces).
inline void print_error(const std::exception& e) {
    std::string msg = e.what();
    for (auto& ch : msg)
        if (ch == '\n' || ch == '\r') ch = ' ';
    std::fprintf(stderr, "rwkv-cli: error: %s\n", msg.c_str());
}

void check_threads(int threads) {
    if (threads < 1) throw rwkv::invalid_argument("--threads must be at least 1 (got " + std::to_string(threads) + ")");
}

}  // namespace rwkv_cli
