// tools/chat_command.hpp — `rwkv-cli chat`: a multi-turn conversation in the RWKV chat format
// (rwkv/generate/chat_format.hpp) with any model the CLI opens.
//
// One state holds the whole conversation: each turn feeds only "User: <line>\n\nAssistant:" and the
// answer's own tokens, never the history again. stdin is read line by line — a terminal gets a
// "User: " prompt, piped input is echoed so the transcript reads the same. Lines that start with '/'
// are commands (/help lists them); Ctrl-C stops the answer being written. A failed command (a
// missing file, a state of another model) is one error line on stderr and the chat goes on; the exit
// status is then that first error's code (docs/errors.md), so a scripted chat still fails visibly.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli_common.hpp"
#include "model_options.hpp"
#include "progress.hpp"
#include "rwkv/any_model.hpp"
#include "rwkv/generate/chat_format.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/state/state_file.hpp"
#include "rwkv/state/state_tuning.hpp"
#include "rwkv/text/tokenizer.hpp"

namespace rwkv_cli {

// Tokens per forward call in a prefill (the workspace's capacity). The model runs a longer input in
// chunks of this size anyway, so feeding it chunk by chunk to draw progress changes no result.
inline constexpr std::size_t prefill_chunk = 256;

// Feeds `tokens` into `st` in sequence mode, leaving the last token's logits in `logits`. With
// `show_progress` and more than one chunk, draws a bar on stderr (a terminal only).
inline void prefill(const rwkv::any_model& model, std::span<const std::int32_t> tokens, rwkv::state& st,
                    rwkv::any_workspace& ws, std::span<float> logits, bool show_progress) {
    if (!show_progress || tokens.size() <= prefill_chunk || !stderr_is_terminal()) {
        model.forward(tokens, st, ws, logits);
        return;
    }
    progress_bar bar("prefill", tokens.size());
    for (std::size_t done = 0; done < tokens.size();) {
        const std::size_t n = std::min(prefill_chunk, tokens.size() - done);
        const bool last = done + n == tokens.size();
        model.forward(tokens.subspan(done, n), st, ws, last ? logits : std::span<float>(),
                      last ? rwkv::logits_mode::last : rwkv::logits_mode::none);
        done += n;
        bar.draw(done);
    }
}

// While alive, Ctrl-C (SIGINT) is recorded instead of ending the program: the answer being written
// stops and the turn is closed as if cut off. The previous handler comes back afterwards.
class interrupt_guard {
public:
    interrupt_guard() : previous_(std::signal(SIGINT, on_interrupt)) { flag() = 0; }
    ~interrupt_guard() { std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_); }
    interrupt_guard(const interrupt_guard&) = delete;
    interrupt_guard& operator=(const interrupt_guard&) = delete;
    [[nodiscard]] bool requested() const noexcept { return flag() != 0; }

private:
    static volatile std::sig_atomic_t& flag() noexcept {
        static volatile std::sig_atomic_t f = 0;
        return f;
    }
    static void on_interrupt(int) { flag() = 1; }
    void (*previous_)(int);
};

struct chat_args {
    model_options m;
    std::string system;
    long long max_tokens = 500;
    rwkv::generate::sampler_config sampling = chat_sampling();
    bool stats = false;

    // ChatRWKV's chat settings: a narrow nucleus, and penalties against repeating oneself.
    static rwkv::generate::sampler_config chat_sampling() {
        rwkv::generate::sampler_config c;
        c.temperature = 1.0f;
        c.top_p = 0.3f;
        c.presence_penalty = 0.5f;
        c.frequency_penalty = 0.5f;
        c.penalty_decay = 0.996f;
        return c;
    }
};

class chat_session {
public:
    chat_session(const rwkv::any_model& model, const rwkv::text::any_tokenizer& tokenizer, const chat_args& a)
        : model_(model),
          tokenizer_(tokenizer),
          max_tokens_(a.max_tokens),
          stats_(a.stats),
          state_(model.make_state()),
          workspace_(model.make_workspace(prefill_chunk)),
          logits_(model.summary().n_vocab),
          sampler_(a.sampling, static_cast<std::int32_t>(model.summary().n_vocab)) {
        if (!a.m.state_init.empty()) rwkv::apply_state_tuning(state_, fs::path(a.m.state_init));
        feed(rwkv::generate::chat_format::system_text(a.system));
        start_ = state_;  // what /reset returns to: the system prompt heard, nothing else
    }

    // Feeds the user's message and streams the answer to stdout.
    void answer(std::string_view message) {
        feed(rwkv::generate::chat_format::user_turn(message));
        // The fork /regen returns to: the question heard, the answer not yet begun.
        before_answer_ = state_;
        logits_before_answer_ = logits_;
        can_regenerate_ = true;
        stream_answer();
    }

    // Answers the last question again with the next random draws (the same answer at temperature 0).
    void regenerate() {
        if (!can_regenerate_) throw rwkv::invalid_argument("/regen: there is no answer to regenerate yet");
        state_ = before_answer_;
        logits_ = logits_before_answer_;
        stream_answer();
    }

    void reset() {
        state_ = start_;
        can_regenerate_ = false;
    }

    void save(const std::string& path) const { rwkv::save_state(state_, path); }

    void load(const std::string& path) {
        rwkv::state loaded = rwkv::load_state(path, state_.layout());
        // A context cache (GoldFinch) comes back sized to what was saved: give it the room a fresh
        // state has, so the conversation can go on.
        loaded.reserve_cache(state_.cache_capacity());
        state_ = std::move(loaded);
        can_regenerate_ = false;
    }

private:
    void feed(const std::string& text) {
        if (text.empty()) return;
        const std::vector<std::int32_t> tokens = tokenizer_.encode(text);
        prefill_tokens_ += tokens.size();
        if (!tokens.empty()) prefill(model_, tokens, state_, *workspace_, logits_, true);
    }

    void stream_answer() {
        namespace cf = rwkv::generate::chat_format;
        // Penalties count this answer's tokens only (as ChatRWKV's chat does); the generator runs on,
        // so /regen draws new samples.
        const auto draws = sampler_.generator().state();
        sampler_.reset();
        sampler_.generator().set_state(draws);

        const auto t0 = std::chrono::steady_clock::now();
        std::fwrite(cf::assistant_prefix.data(), 1, cf::assistant_prefix.size(), stdout);
        std::fflush(stdout);
        cf::answer_stream answer;
        std::string shown;
        long long produced = 0;
        const auto eot = tokenizer_.end_of_text_id();
        const interrupt_guard interrupt;  // Ctrl-C ends this answer, not the chat
        for (; produced < max_tokens_ && !interrupt.requested(); ++produced) {
            const std::int32_t token = sampler_.sample(logits_);
            if (eot && token == *eot) break;
            sampler_.accept(token);
            model_.forward(std::span(&token, 1), state_, *workspace_, logits_);  // the state hears its own words
            shown.clear();
            const bool ended = answer.push(tokenizer_.token_bytes(token), shown);
            std::fwrite(shown.data(), 1, shown.size(), stdout);
            std::fflush(stdout);  // stream: each character as soon as it is complete
            if (ended) {
                ++produced;
                break;
            }
        }
        shown.clear();
        answer.finish(shown);
        // Cut off (token limit or end of text): close the turn so the next "User:" starts where the
        // format expects, in the state and on the screen alike.
        const std::string closing(answer.closing());
        shown += closing;
        std::fwrite(shown.data(), 1, shown.size(), stdout);
        std::fflush(stdout);
        const auto t1 = std::chrono::steady_clock::now();
        if (stats_) {
            const double s = std::chrono::duration<double>(t1 - t0).count();
            std::fprintf(stderr, "[%lld tokens in %.2f s, %.1f tok/s; %zu prompt tokens fed]\n", produced, s,
                         static_cast<double>(produced) / s, prefill_tokens_);
        }
        prefill_tokens_ = 0;
        feed(closing);
        prefill_tokens_ = 0;
    }

    const rwkv::any_model& model_;
    const rwkv::text::any_tokenizer& tokenizer_;
    long long max_tokens_;
    bool stats_;
    rwkv::state state_, start_, before_answer_;
    std::unique_ptr<rwkv::any_workspace> workspace_;
    std::vector<float> logits_, logits_before_answer_;
    rwkv::generate::sampler sampler_;
    bool can_regenerate_ = false;
    std::size_t prefill_tokens_ = 0;
};

inline constexpr const char* chat_commands_help =
    "[commands: /regen (answer again), /reset (forget the conversation), /save FILE, /load FILE (the state), "
    "/quit]";

// Runs one command line; returns false when the chat should end.
inline bool run_chat_command(chat_session& chat, std::string_view line) {
    const auto space = line.find(' ');
    const std::string_view name = line.substr(0, space);
    std::string argument = space == std::string_view::npos ? "" : std::string(line.substr(space + 1));
    while (!argument.empty() && argument.back() == ' ') argument.pop_back();
    if (name == "/quit" || name == "/exit") return false;
    if ((name == "/save" || name == "/load") && argument.empty())
        throw rwkv::invalid_argument(std::string(name) + " needs a file name");
    if (name == "/regen") {
        chat.regenerate();
    } else if (name == "/reset") {
        chat.reset();
        std::puts("[conversation reset]");
    } else if (name == "/save") {
        chat.save(argument);
        std::printf("[state saved to %s]\n", argument.c_str());
    } else if (name == "/load") {
        chat.load(argument);
        std::printf("[state loaded from %s]\n", argument.c_str());
    } else if (name == "/help") {
        std::puts(chat_commands_help);
    } else {
        throw rwkv::invalid_argument("unknown command '" + std::string(name) + "' (/help lists them)");
    }
    return true;
}

inline int run_chat(const chat_args& a) {
    check_threads(a.m.threads);
    if (a.max_tokens < 1)
        throw rwkv::invalid_argument("--max-tokens must be >= 1 (got " + std::to_string(a.max_tokens) + ")");
    const auto [model, tokenizer] = open_text_model(a.m);
    const auto info = model.summary();
    chat_session chat(model, tokenizer, a);

    const bool interactive = stdin_is_terminal();
    std::printf("[%s: %s, %zu layers, %zu wide, %s tokenizer; /help for commands, /quit to leave]\n",
                model.source().c_str(), std::string(rwkv::architecture_name(info.arch)).c_str(), info.n_layer,
                info.n_embd, std::string(tokenizer.name()).c_str());
    int status = exit_ok;
    std::string line;
    while (true) {
        if (interactive) std::fputs("User: ", stdout);
        std::fflush(stdout);
        if (!std::getline(std::cin, line)) break;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!interactive) std::printf("User: %s\n", line.c_str());  // piped: echo, so the transcript reads
        if (rwkv::generate::chat_format::clean_message(line).empty()) continue;
        try {
            if (line.front() == '/') {
                if (!run_chat_command(chat, line)) break;
            } else {
                chat.answer(line);
            }
        } catch (const std::exception& e) {
            std::fflush(stdout);
            print_error(e);
            if (status == exit_ok) status = exit_code_of_current_exception();
        }
    }
    if (interactive) std::fputc('\n', stdout);
    return status;
}

inline void add_chat_command(CLI::App& app, std::function<int()>& action) {
    auto a = std::make_shared<chat_args>();
    auto* chat = app.add_subcommand("chat", "Talk with a model in the RWKV chat format (User: / Assistant:)");
    chat->footer(std::string("While chatting: ") + chat_commands_help);
    add_model_options(chat, a->m);
    chat->add_option("--system", a->system, "System prompt, fed once as 'System: TEXT' before the first turn");
    chat->add_option("--max-tokens", a->max_tokens, "Longest answer in tokens (an answer ends at a blank line)")
        ->capture_default_str();
    add_sampling_options(chat, a->sampling);
    chat->add_flag("--stats", a->stats, "After each answer, print its tokens/s to stderr");
    chat->callback([a, &action] { action = [a] { return run_chat(*a); }; });
}

}  // namespace rwkv_cli
