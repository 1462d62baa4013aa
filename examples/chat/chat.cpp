// A minimal chat on the library API: one state carries the whole conversation, so each turn feeds
// only the new words, never the history.
//
//   rwkv-example-chat examples/models/fortune-v7-c128-l2.safetensors
//   rwkv-example-chat rwkv7-g1-1.5b.pth --vocab rwkv_vocab_v20230424.txt --system "You are a helpful assistant."
//
// The RWKV chat format: "System: <prompt>\n\n" once, then "User: <line>\n\nAssistant:" per turn,
// and the answer ends at "\n\n". Lines that start with '/' are commands: /reset, /save FILE,
// /load FILE, /quit. stdin is read line by line, so a pipe works as well as a terminal.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/backends/cpu.hpp"
#include "rwkv/generate/chat_format.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/rwkv7.hpp"
#include "rwkv/text/tokenizer.hpp"

namespace {

using model_type = rwkv::rwkv7::model<rwkv::backends::cpu>;
namespace chat_format = rwkv::generate::chat_format;

struct options {
    std::string model_path;
    std::string vocab_path;  // empty: the byte tokenizer of the demo models
    std::string system_prompt;
    rwkv::generate::sampler_config sampling{.temperature = 1.0f, .top_p = 0.3f, .seed = 42};
    int max_tokens = 200;  // per answer: a model that never says "\n\n" still hands the turn back
    std::size_t threads = 1;
};

void print_usage(const char* program) {
    std::fprintf(stderr,
                 "usage: %s MODEL [options]\n"
                 "  --vocab FILE         World vocabulary (rwkv_vocab_v20230424.txt); default: byte tokenizer\n"
                 "  --system TEXT        system prompt, fed once before the first turn\n"
                 "  --temperature T      default 1.0 (0 = greedy)\n"
                 "  --top-p P            default 0.3\n"
                 "  --seed N             default 42\n"
                 "  --max-tokens N       longest answer, default 200\n"
                 "  --threads N          cpu threads, default 1\n"
                 "commands while chatting: /reset, /save FILE, /load FILE, /quit\n",
                 program);
}

std::optional<options> parse_args(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--help" || arg == "-h") return std::nullopt;
        if (arg.starts_with("--") && !has_value) {
            std::fprintf(stderr, "%s needs a value\n", argv[i]);
            return std::nullopt;
        }
        if (arg == "--vocab") opt.vocab_path = argv[++i];
        else if (arg == "--system") opt.system_prompt = argv[++i];
        else if (arg == "--temperature") opt.sampling.temperature = std::strtof(argv[++i], nullptr);
        else if (arg == "--top-p") opt.sampling.top_p = std::strtof(argv[++i], nullptr);
        else if (arg == "--seed") opt.sampling.seed = std::strtoull(argv[++i], nullptr, 10);
        else if (arg == "--max-tokens") opt.max_tokens = std::atoi(argv[++i]);
        else if (arg == "--threads") opt.threads = std::strtoul(argv[++i], nullptr, 10);
        else if (arg.starts_with("--")) {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            return std::nullopt;
        } else if (opt.model_path.empty()) opt.model_path = argv[i];
        else return std::nullopt;
    }
    if (opt.model_path.empty() || opt.max_tokens < 1 || opt.threads < 1) return std::nullopt;
    return opt;
}

// The byte tokenizer, or the World one with --vocab; refused here, not mid-chat, if it does not fit.
rwkv::text::any_tokenizer make_tokenizer(const options& opt, std::size_t model_vocab) {
    rwkv::text::any_tokenizer tokenizer = rwkv::text::byte_tokenizer{};
    if (!opt.vocab_path.empty()) tokenizer = rwkv::text::world_tokenizer::from_file(opt.vocab_path);
    if (static_cast<std::size_t>(tokenizer.vocab_size()) > model_vocab)
        throw rwkv::invalid_argument("the " + std::string(tokenizer.name()) + " tokenizer has " +
                                     std::to_string(tokenizer.vocab_size()) + " tokens, but the model only " +
                                     std::to_string(model_vocab) + (opt.vocab_path.empty() ? ": pass --vocab" : ""));
    return tokenizer;
}

// Everything one conversation needs; the model itself is shared and read-only.
class chat {
public:
    chat(const model_type& model, const rwkv::text::any_tokenizer& tokenizer, const options& opt)
        : model_(model),
          tokenizer_(tokenizer),
          max_tokens_(opt.max_tokens),
          state_(model.make_state()),
          workspace_(model.make_workspace()),
          logits_(model.cfg().n_vocab),
          sampler_(opt.sampling, static_cast<std::int32_t>(model.cfg().n_vocab)) {
        // The system prompt is part of the starting point that /reset returns to.
        feed(chat_format::system_text(opt.system_prompt));
        start_ = state_;  // copying a state forks the conversation
    }

    // Feeds the user's line and streams the answer to stdout.
    void answer(std::string_view user_line) {
        feed(chat_format::user_turn(user_line));
        std::fwrite(chat_format::assistant_prefix.data(), 1, chat_format::assistant_prefix.size(), stdout);
        chat_format::answer_stream answer;  // whole UTF-8 characters, and where the turn ends
        std::string shown;
        for (int i = 0; i < max_tokens_; ++i) {
            const std::int32_t token = sampler_.sample(logits_);
            if (token == tokenizer_.end_of_text_id()) break;
            sampler_.accept(token);
            model_.forward(std::span(&token, 1), state_, workspace_, logits_);  // the state hears its own words
            shown.clear();
            const bool ended = answer.push(tokenizer_.token_bytes(token), shown);
            std::fputs(shown.c_str(), stdout);
            std::fflush(stdout);  // stream: show each character as soon as it is complete
            if (ended) return;
        }
        // Cut off (or end of text): close the turn so the next "User:" starts where the format expects.
        shown.clear();
        answer.finish(shown);
        const std::string closing(answer.closing());
        std::printf("%s%s", shown.c_str(), closing.c_str());
        feed(closing);
    }

    void reset() {
        state_ = start_;
        sampler_.reset();
    }
    void save(const std::string& path) const { rwkv::save_state(state_, path); }
    void load(const std::string& path) {
        rwkv::state loaded = rwkv::load_state(path, model_.layout());
        state_ = std::move(loaded);
    }

private:
    // Sequence mode over the new text only: the state already holds everything before it.
    void feed(const std::string& text) {
        if (text.empty()) return;
        const std::vector<std::int32_t> tokens = tokenizer_.encode(text);
        if (!tokens.empty()) model_.forward(tokens, state_, workspace_, logits_);
    }

    const model_type& model_;
    const rwkv::text::any_tokenizer& tokenizer_;
    int max_tokens_;
    rwkv::state state_, start_;
    model_type::workspace_type workspace_;
    std::vector<float> logits_;
    rwkv::generate::sampler sampler_;
};

// Returns false when the chat should end.
bool run_command(chat& conversation, std::string_view line) {
    const auto space = line.find(' ');
    const std::string_view name = line.substr(0, space);
    const std::string argument = space == std::string_view::npos ? "" : std::string(line.substr(space + 1));
    if (name == "/quit" || name == "/exit") return false;
    if (name == "/reset") {
        conversation.reset();
        std::puts("[conversation reset]");
    } else if ((name == "/save" || name == "/load") && argument.empty()) {
        std::printf("[%s needs a file name]\n", std::string(name).c_str());
    } else if (name == "/save") {
        conversation.save(argument);
        std::printf("[state saved to %s]\n", argument.c_str());
    } else if (name == "/load") {
        conversation.load(argument);
        std::printf("[state loaded from %s]\n", argument.c_str());
    } else {
        std::puts("[commands: /reset, /save FILE, /load FILE, /quit]");
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const auto opt = parse_args(argc, argv);
    if (!opt) {
        print_usage(argv[0]);
        return 2;
    }
    try {
        const auto model = model_type::load(opt->model_path, rwkv::backends::cpu(opt->threads));
        const auto tokenizer = make_tokenizer(*opt, model.cfg().n_vocab);
        chat conversation(model, tokenizer, *opt);
        const bool interactive = isatty(STDIN_FILENO) != 0;
        std::printf("[%s: %zu layers, %zu wide, %s tokenizer; /quit to leave]\n", model.source().c_str(),
                    model.cfg().n_layer, model.cfg().n_embd, std::string(tokenizer.name()).c_str());

        std::string line;
        while (true) {
            if (interactive) std::fputs("User: ", stdout);
            std::fflush(stdout);
            if (!std::getline(std::cin, line)) break;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!interactive) std::printf("User: %s\n", line.c_str());  // piped: echo, so the transcript reads
            if (line.empty()) continue;
            if (line.front() == '/') {
                try {
                    if (!run_command(conversation, line)) break;
                } catch (const rwkv::error& e) {
                    std::printf("[error: %s]\n", e.what());  // a bad file name should not end the chat
                }
                continue;
            }
            conversation.answer(line);
        }
    } catch (const rwkv::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
