// Test helpers: where test data lives, and small file utilities.
#pragma once

#include <catch2/catch.hpp>
#ifndef _WIN32
#include <sys/wait.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/platform.hpp"

namespace rwkv_test {

inline std::filesystem::path data_dir() { return RWKV_TEST_DATA_DIR; }

// The World vocabulary: env RWKV_VOCAB_DIR, else the CMake cache variable (default ../shared/data).
// Returns an empty path when absent, so tests can SKIP-with-message.
inline std::filesystem::path world_vocab_path() {
    std::filesystem::path dir = RWKV_TEST_VOCAB_DIR;
    if (const char* env = std::getenv("RWKV_VOCAB_DIR")) dir = env;
    auto p = dir / "rwkv_vocab_v20230424.txt";
    return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

inline std::filesystem::path shared_golden_dir() {
    std::filesystem::path p = std::filesystem::path(RWKV_TEST_SHARED_DIR) / "golden";
    return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

inline std::vector<char> read_file_bytes(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline std::vector<float> read_f32(const std::filesystem::path& p) {
    auto bytes = read_file_bytes(p);
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
    return out;
}

inline void write_file_bytes(const std::filesystem::path& p, const void* data, std::size_t n) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

// A fresh scratch directory under the system temp dir, removed at scope exit.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("rwkv-test-" + std::to_string(rwkv::platform::process_id()) + "-" + std::to_string(counter++));
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

// The largest |a[i] − b[i]| (the golden comparisons); sizes must match.
inline float max_abs_diff(std::span<const float> a, std::span<const float> b) {
    REQUIRE(a.size() == b.size());
    float m = 0.0f;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

// Runs a command with arguments (each quoted for the shell), stdout and stderr captured through
// files in `dir`; stdin is the null device. code: the exit status, or 128 + the signal (POSIX).
struct command_result {
    int code = -1;
    std::string out, err;
};

#ifdef _WIN32
// cmd.exe: double quotes (no argument the tests pass holds one).
inline std::string shell_quote(const std::string& s) { return '"' + s + '"'; }
#else
inline std::string shell_quote(const std::string& s) {
    std::string q(1, '\'');
    for (char c : s) {
        if (c == '\'') q.append("'\\''");
        else q.push_back(c);
    }
    q.push_back('\'');
    return q;
}
#endif

inline command_result run_command(const std::string& program, const std::vector<std::string>& args,
                                  const temp_dir& dir) {
    std::string cmd = shell_quote(program);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    const auto out = dir.path / "stdout", err = dir.path / "stderr";
    command_result r;
#ifdef _WIN32
    cmd += " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string()) + " <NUL";
    // cmd /c drops the first and the last quote of a line that starts with one: one more pair.
    r.code = std::system(('"' + cmd + '"').c_str());
#else
    cmd += " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string()) + " </dev/null";
    const int status = std::system(cmd.c_str());
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
#endif
    auto o = read_file_bytes(out), e = read_file_bytes(err);
    r.out.assign(o.begin(), o.end());
    r.err.assign(e.begin(), e.end());
    return r;
}

}  // namespace rwkv_test
