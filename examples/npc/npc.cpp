// A small terminal game: the village of Oakbrook, whose NPCs share ONE model. Each NPC is a state,
// a seeded sampler and a persona (village.hpp); every turn they all speak, stepped together with
// forward_batch. Talk to one of them, save and restore its memory, replay the same story from the
// same seed.
//
//   rwkv-example-npc examples/models/fortune-v7-c128-l2.safetensors
//   rwkv-example-npc MODEL --script commands.txt --turns 2 --seed 7     (no player: for tests)
//
// Commands (one per line, from the terminal, a pipe or --script FILE):
//   next (or an empty line)   everyone says one line
//   say NAME WORDS            NAME hears WORDS (nobody else does), then everyone says one line
//   save NAME FILE            write NAME's memory (its state) to FILE
//   load NAME FILE            NAME's memory becomes FILE's: it forgets everything since the save
//   memory                    per-NPC memory and the workspace they share
//   help, quit
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "village.hpp"

namespace {

struct options {
    std::string model_path, vocab_path, script_path;
    npc::village_options village;
    std::size_t opening_turns = 1;  // turns played before the first command
    std::size_t threads = 1;
};

void print_usage(const char* program) {
    std::fprintf(stderr,
                 "usage: %s MODEL [options]\n"
                 "  --vocab FILE         World vocabulary for World models; default: byte tokenizer\n"
                 "  --npcs N             villagers, 1 to %zu (default 5)\n"
                 "  --seed N             the story's seed (default 1): the same seed replays the same story\n"
                 "  --turns N            turns played before the first command (default 1)\n"
                 "  --script FILE        read commands from FILE instead of stdin\n"
                 "  --max-line N         longest line in tokens (default 48)\n"
                 "  --temperature T      default 1.0\n"
                 "  --top-p P            default 0.5\n"
                 "  --threads N          cpu threads (default 1)\n",
                 program, npc::max_villagers);
}

std::optional<options> parse_args(int argc, char** argv) {
    options opt;
    auto& v = opt.village;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") return std::nullopt;
        if (arg.starts_with("--") && i + 1 >= argc) {
            std::fprintf(stderr, "%s needs a value\n", argv[i]);
            return std::nullopt;
        }
        if (arg == "--vocab") opt.vocab_path = argv[++i];
        else if (arg == "--script") opt.script_path = argv[++i];
        else if (arg == "--npcs") v.npcs = std::strtoul(argv[++i], nullptr, 10);
        else if (arg == "--seed") v.seed = std::strtoull(argv[++i], nullptr, 10);
        else if (arg == "--turns") opt.opening_turns = std::strtoul(argv[++i], nullptr, 10);
        else if (arg == "--max-line") v.max_line_tokens = std::strtoul(argv[++i], nullptr, 10);
        else if (arg == "--temperature") v.sampling.temperature = std::strtof(argv[++i], nullptr);
        else if (arg == "--top-p") v.sampling.top_p = std::strtof(argv[++i], nullptr);
        else if (arg == "--threads") opt.threads = std::strtoul(argv[++i], nullptr, 10);
        else if (arg.starts_with("--")) {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            return std::nullopt;
        } else if (opt.model_path.empty()) opt.model_path = argv[i];
        else return std::nullopt;
    }
    if (opt.model_path.empty() || v.npcs < 1 || v.npcs > npc::max_villagers || v.max_line_tokens < 1 ||
        opt.threads < 1)
        return std::nullopt;
    return opt;
}

// The byte tokenizer, or the World one given a vocabulary; refused at the start if it does not fit.
rwkv::text::any_tokenizer make_tokenizer(const std::string& vocab_path, std::size_t model_vocab) {
    rwkv::text::any_tokenizer tokenizer = rwkv::text::byte_tokenizer{};
    if (!vocab_path.empty()) tokenizer = rwkv::text::world_tokenizer::from_file(vocab_path);
    if (static_cast<std::size_t>(tokenizer.vocab_size()) > model_vocab)
        throw rwkv::invalid_argument("the " + std::string(tokenizer.name()) + " tokenizer has " +
                                     std::to_string(tokenizer.vocab_size()) + " tokens, but the model only " +
                                     std::to_string(model_vocab) + (vocab_path.empty() ? ": pass --vocab" : ""));
    return tokenizer;
}

// Plain lines for pipes, logs and tests; colours only when a person is looking at a terminal.
class screen {
public:
    explicit screen(bool colour) : colour_(colour) {}

    void turn(std::size_t number, const npc::village& village) const {
        std::printf("\n%s== Turn %zu ==%s\n", sgr("1").c_str(), number, sgr("0").c_str());
        for (std::size_t i = 0; i < village.size(); ++i) {
            const auto& v = village[i];
            const char* gap = v.line.starts_with(' ') ? "" : " ";  // the model usually says the space itself
            std::printf("%s%s the %s:%s%s%s\n", sgr(v.who->colour).c_str(), std::string(v.who->name).c_str(),
                        std::string(v.who->role).c_str(), sgr("0").c_str(), gap, v.line.c_str());
        }
    }

    // Timing varies from run to run; these lines start with "[stats]" so a replay check can skip them.
    void stats(std::size_t number, const npc::turn_stats& s, std::size_t npcs) const {
        std::printf("%s[stats] turn %zu: %zu NPCs, %zu tokens in %zu batched steps, %.1f ms, %.0f tokens/s%s\n",
                    sgr("2").c_str(), number, npcs, s.tokens, s.steps, s.seconds * 1e3, s.tokens_per_second(),
                    sgr("0").c_str());
    }

    void memory(const npc::village& village) const {
        const double kib = 1024.0;
        const std::size_t n = village.size();
        const double state = static_cast<double>(village.state_bytes()) / kib;
        const double workspace = static_cast<double>(village.workspace_bytes()) / kib;
        const double logits = static_cast<double>(village.logits_bytes_per_npc()) / kib;
        std::printf("[memory] per NPC: state %.1f KiB + workspace share %.1f KiB (%.1f KiB / %zu NPCs) + logits "
                    "%.1f KiB = %.1f KiB; the weights are shared\n",
                    state, workspace / static_cast<double>(n), workspace, n, logits,
                    state + workspace / static_cast<double>(n) + logits);
    }

    void note(const std::string& text) const {
        std::printf("%s[%s]%s\n", sgr("2").c_str(), text.c_str(), sgr("0").c_str());
    }

private:
    // An ANSI "select graphic rendition" sequence; temporaries live until the printf returns.
    std::string sgr(std::string_view code) const { return colour_ ? "\x1b[" + std::string(code) + "m" : ""; }
    bool colour_;
};

// The game: a village, a screen, and the turn counter. Returns false from run() on quit.
class game {
public:
    game(npc::village& village, const screen& out) : village_(village), out_(out) {}

    void play_turn() {
        const auto stats = village_.play_turn();
        ++turns_;
        out_.turn(turns_, village_);
        out_.stats(turns_, stats, village_.size());
    }

    bool run(const std::string& line) {
        std::istringstream words(line);
        std::string command, name, rest;
        words >> command >> name;
        std::getline(words >> std::ws, rest);
        if (command.empty() || command == "next") {
            play_turn();
        } else if (command == "quit" || command == "exit") {
            return false;
        } else if (command == "memory") {
            out_.memory(village_);
        } else if (command == "say" || command == "save" || command == "load") {
            const std::size_t i = village_.find(name);
            if (i == village_.size()) out_.note("nobody here is called '" + name + "'");
            else if (rest.empty()) out_.note(command + " " + name + " needs " + (command == "say" ? "words" : "a file"));
            else if (command == "say") say(i, rest);
            else if (command == "save") remember(i, rest, true);
            else remember(i, rest, false);
        } else {
            out_.note("commands: next, say NAME WORDS, save NAME FILE, load NAME FILE, memory, quit");
        }
        return true;
    }

private:
    void say(std::size_t i, const std::string& words) {
        village_.tell(i, words);
        out_.note("you say to " + std::string(village_[i].who->name) + ": " + words);
        play_turn();
    }

    void remember(std::size_t i, const std::string& file, bool save) {
        const std::string name(village_[i].who->name);
        try {
            if (save) village_.save(i, file);
            else village_.load(i, file);
            char print[32];
            std::snprintf(print, sizeof print, "%016llx", static_cast<unsigned long long>(fingerprint(village_[i])));
            out_.note(name + "'s memory " + (save ? "saved to " : "loaded from ") + file + " (" +
                      std::to_string(village_.state_bytes()) + " bytes, fingerprint " + print + ")");
        } catch (const rwkv::error& e) {
            out_.note("could not " + std::string(save ? "save" : "load") + " " + name + ": " + e.what());
        }
    }

    // FNV-1a of the state's bytes: equal fingerprints at save and load show the round trip is exact.
    static std::uint64_t fingerprint(const npc::villager& v) {
        std::uint64_t h = 1469598103934665603ull;
        for (std::byte b : std::as_bytes(v.memory.values())) h = (h ^ static_cast<std::uint64_t>(b)) * 1099511628211ull;
        return h;
    }

    npc::village& village_;
    const screen& out_;
    std::size_t turns_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const auto opt = parse_args(argc, argv);
    if (!opt) {
        print_usage(argv[0]);
        return 2;
    }
    try {
        const auto model = npc::model_type::load(opt->model_path, rwkv::backends::cpu(opt->threads));
        const auto tokenizer = make_tokenizer(opt->vocab_path, model.cfg().n_vocab);
        std::ifstream script;
        if (!opt->script_path.empty()) {
            script.open(opt->script_path);
            if (!script) throw rwkv::invalid_argument("cannot open script " + opt->script_path);
        }
        std::istream& input = opt->script_path.empty() ? std::cin : script;
        const bool player_at_terminal = opt->script_path.empty() && isatty(STDIN_FILENO) != 0;
        const screen out(isatty(STDOUT_FILENO) != 0);

        npc::village village(model, tokenizer, opt->village);
        std::printf("Welcome to Oakbrook: %zu villagers share one model (%s, %zu layers, %zu wide), seed %llu.\n",
                    village.size(), model.source().c_str(), model.cfg().n_layer, model.cfg().n_embd,
                    static_cast<unsigned long long>(opt->village.seed));
        out.memory(village);
        std::puts("Type 'next', 'say NAME WORDS', 'save NAME FILE', 'load NAME FILE', 'memory' or 'quit'.");

        game g(village, out);
        for (std::size_t t = 0; t < opt->opening_turns; ++t) g.play_turn();
        std::string line;
        while (true) {
            if (player_at_terminal) std::fputs("> ", stdout);
            std::fflush(stdout);
            if (!std::getline(input, line)) break;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!player_at_terminal) std::printf("> %s\n", line.c_str());  // a script's commands show in the story
            if (!g.run(line)) break;
        }
        std::puts("The village sleeps.");
    } catch (const rwkv::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
