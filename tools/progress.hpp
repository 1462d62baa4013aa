// tools/progress.hpp — progress on stderr for rwkv-cli, drawn only when stderr is a terminal, so
// piped runs (tests, scripts, the contracts of docs/contracts.md) see none of it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <string>

#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

namespace rwkv_cli {

inline bool stderr_is_terminal() noexcept {
#ifdef _WIN32
    return ::_isatty(::_fileno(stderr)) != 0;
#else
    return ::isatty(STDERR_FILENO) == 1;
#endif
}

inline bool stdin_is_terminal() noexcept {
#ifdef _WIN32
    return ::_isatty(::_fileno(stdin)) != 0;
#else
    return ::isatty(STDIN_FILENO) == 1;
#endif
}

// A bar `label [#####.....] done/total`, redrawn in place; the line is cleared when it goes out of
// scope. Redraws at most once per 0.1 % step.
class progress_bar {
public:
    progress_bar(std::string label, std::size_t total, bool enabled = true)
        : label_(std::move(label)), total_(total), enabled_(enabled && stderr_is_terminal()) {
        draw(0);
    }
    ~progress_bar() { clear(); }
    progress_bar(const progress_bar&) = delete;
    progress_bar& operator=(const progress_bar&) = delete;

    void draw(std::size_t done) {
        if (!enabled_) return;
        const std::size_t width = 30, filled = total_ ? done * width / total_ : width;
        const std::size_t permille = total_ ? done * 1000 / total_ : 1000;
        if (done != total_ && permille == last_) return;
        last_ = permille;
        std::fprintf(stderr, "\r%s [%s%s] %zu/%zu", label_.c_str(), std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), done, total_);
        std::fflush(stderr);
    }

    // Erases the bar (ANSI "erase line"), leaving the cursor at the start of the line.
    void clear() {
        if (!enabled_ || last_ == npos) return;
        std::fputs("\r\x1b[2K", stderr);
        std::fflush(stderr);
        last_ = npos;
    }

private:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    std::string label_;
    std::size_t total_;
    bool enabled_;
    std::size_t last_ = npos;
};

// A one-line "label …" for work with no measurable progress (loading a model, writing a file),
// replaced by "label done in 1.23 s" when it ends; nothing when stderr is not a terminal.
class progress_status {
public:
    explicit progress_status(std::string label) : label_(std::move(label)), enabled_(stderr_is_terminal()) {
        if (!enabled_) return;
        std::fprintf(stderr, "%s ...", label_.c_str());
        std::fflush(stderr);
    }
    ~progress_status() {
        if (!enabled_) return;
        if (std::uncaught_exceptions() > unwinding_) {  // failed: the error line will say why
            std::fputs("\r\x1b[2K", stderr);
            std::fflush(stderr);
            return;
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        std::fprintf(stderr, "\r\x1b[2K%s done in %.2f s\n", label_.c_str(), s);
        std::fflush(stderr);
    }
    progress_status(const progress_status&) = delete;
    progress_status& operator=(const progress_status&) = delete;

private:
    std::string label_;
    bool enabled_;
    int unwinding_ = std::uncaught_exceptions();
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace rwkv_cli
