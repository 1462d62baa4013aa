// A village of NPCs sharing one model: each NPC is just a state, a seeded sampler and a persona.
//
// Every game turn, all NPCs speak at once: one forward_batch call steps every NPC that is still
// talking by one token, so the weights stream from memory once per step for the whole village
// instead of once per NPC. forward_batch is bitwise batch invariant (an NPC's logits do not depend
// on who else is in the batch, or in which row), and each NPC samples with its own seeded sampler,
// so the same seed replays the same story — even though NPCs leave the batch as they finish.
//
// Nothing is allocated per token: the logits of every NPC, the batch's token and state lists and
// each NPC's line are sized in the constructor.
#pragma once

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "personas.hpp"
#include "rwkv/backends/cpu.hpp"
#include "rwkv/generate/sampler.hpp"
#include "rwkv/rwkv7.hpp"
#include "rwkv/text/tokenizer.hpp"
#include "rwkv/text/utf8.hpp"

namespace npc {

using model_type = rwkv::rwkv7::model<rwkv::backends::cpu>;
using workspace_type = model_type::workspace_type;

struct village_options {
    std::size_t npcs = 5;
    std::uint64_t seed = 1;
    std::size_t max_line_tokens = 48;  // a line ends at '\n' or here
    rwkv::generate::sampler_config sampling{.temperature = 1.0f, .top_p = 0.5f};
};

// What one turn cost: tokens sampled over all NPCs, batched steps, and the seconds they took.
struct turn_stats {
    std::size_t tokens = 0, steps = 0;
    double seconds = 0;
    double tokens_per_second() const { return seconds > 0 ? static_cast<double>(tokens) / seconds : 0; }
};

// One NPC: its persona, and the memory that makes it itself.
struct villager {
    const persona* who;
    rwkv::state memory;                // everything it has said and heard, in a fixed size
    rwkv::generate::sampler sampler;   // seeded per NPC: its choices do not depend on the others
    std::vector<std::int32_t> to_hear; // tokens fed before its next line (the player's words, its name)
    std::string line;                  // what it said this turn
    rwkv::text::utf8_stream_decoder utf8;
};

class village {
public:
    village(const model_type& model, const rwkv::text::any_tokenizer& tokenizer, const village_options& opt)
        : model_(model),
          tokenizer_(tokenizer),
          vocab_(model.cfg().n_vocab),
          max_line_tokens_(opt.max_line_tokens),
          newline_(tokenizer.encode("\n")),
          workspace_(model.make_workspace(opt.npcs)),  // one row per NPC: a decode step of the village
          logits_(opt.npcs * vocab_),
          batch_logits_(opt.npcs * vocab_),
          batch_tokens_(opt.npcs),
          batch_lengths_(opt.npcs),
          batch_states_(opt.npcs),
          batch_who_(opt.npcs) {
        villagers_.reserve(opt.npcs);
        for (std::size_t i = 0; i < opt.npcs; ++i) {
            rwkv::generate::sampler_config cfg = opt.sampling;
            cfg.seed = opt.seed * 1000 + i;  // distinct per NPC, fixed by the game's seed
            villagers_.push_back({&villagers[i], model.make_state(), {cfg, static_cast<std::int32_t>(vocab_)}, {}, {}, {}});
            villagers_.back().to_hear.reserve(256);
            villagers_.back().line.reserve(max_line_tokens_ * 32 + 8);  // any token's bytes, and a U+FFFD
        }
        prefill_personas();
    }

    std::size_t size() const { return villagers_.size(); }
    const villager& operator[](std::size_t i) const { return villagers_[i]; }

    // The NPC with this name or role (case-insensitive), or size() if none.
    std::size_t find(std::string_view name) const {
        auto same = [](std::string_view a, std::string_view b) {
            if (a.size() != b.size()) return false;
            for (std::size_t i = 0; i < a.size(); ++i)
                if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
                    return false;
            return true;
        };
        for (std::size_t i = 0; i < villagers_.size(); ++i)
            if (same(name, villagers_[i].who->name) || same(name, villagers_[i].who->role)) return i;
        return villagers_.size();
    }

    // The player's words go into this NPC's memory only; it answers them on the next turn.
    void tell(std::size_t i, std::string_view words) {
        tokenizer_.encode("Traveller: " + std::string(words) + "\n", villagers_[i].to_hear);
    }

    // Every NPC says one line (villager::line).
    turn_stats play_turn() {
        for (auto& v : villagers_) tokenizer_.encode(std::string(v.who->name) + ":", v.to_hear);
        feed_everyone();

        // Decode: sample every talking NPC's next token, then step those still talking in one call.
        const auto start = std::chrono::steady_clock::now();
        turn_stats stats;
        std::size_t talking = villagers_.size();
        for (std::size_t g = 0; g < talking; ++g) batch_who_[g] = g;
        for (auto& v : villagers_) v.line.clear();
        while (talking > 0 && stats.steps < max_line_tokens_) {
            stats.tokens += talking;  // one sampled token per talking NPC
            std::size_t still = 0;
            for (std::size_t g = 0; g < talking; ++g) {
                const std::size_t i = batch_who_[g];
                const auto token = say_next_token(villagers_[i], row(logits_, i));
                if (!token) continue;  // its line is over
                batch_tokens_[still] = *token;
                batch_states_[still] = &villagers_[i].memory;
                batch_who_[still++] = i;
            }
            talking = still;
            if (talking == 0) break;
            step(talking);
            ++stats.steps;
        }
        // Whoever ran out of tokens mid-line still ends it, so the next turn starts on a new line.
        for (std::size_t g = 0; g < talking; ++g) {
            auto& v = villagers_[batch_who_[g]];
            v.utf8.flush(v.line);
            v.to_hear.insert(v.to_hear.end(), newline_.begin(), newline_.end());
        }
        stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return stats;
    }

    void save(std::size_t i, const std::string& path) const { rwkv::save_state(villagers_[i].memory, path); }
    void load(std::size_t i, const std::string& path) {
        rwkv::state loaded = rwkv::load_state(path, model_.layout());
        villagers_[i].memory = std::move(loaded);
    }

    // Bytes of one NPC's memory, and of the workspace that every NPC shares.
    std::size_t state_bytes() const { return model_.layout().total * sizeof(float); }
    std::size_t workspace_bytes() const { return rwkv::workspace_bytes(workspace_); }
    std::size_t logits_bytes_per_npc() const { return 2 * vocab_ * sizeof(float); }  // logits_ and batch_logits_

private:
    static constexpr std::size_t prefill_tokens_per_npc = 64;

    // Each persona goes into its own state in batched sequence mode: one forward_batch call takes a
    // chunk of every persona, each NPC with its own length, until all are read.
    void prefill_personas() {
        for (auto& v : villagers_) tokenizer_.encode(v.who->prompt, v.to_hear);
        auto prefill_workspace = model_.make_workspace(villagers_.size() * prefill_tokens_per_npc);
        feed_everyone(prefill_workspace);
    }  // the big prefill workspace is freed here: a turn needs one row per NPC

    void feed_everyone() { feed_everyone(workspace_); }

    // Feeds every NPC's to_hear in rounds of batched calls, as many tokens per NPC as the workspace
    // holds; leaves each NPC's next-token logits in its row of logits_.
    void feed_everyone(workspace_type& ws) {
        std::vector<std::size_t> fed(villagers_.size(), 0);
        std::vector<std::int32_t> tokens;
        while (true) {
            std::size_t waiting = 0;
            for (std::size_t i = 0; i < villagers_.size(); ++i) waiting += fed[i] < villagers_[i].to_hear.size();
            if (waiting == 0) break;
            const std::size_t per_npc = ws.capacity / waiting;  // ≥ 1: capacity ≥ one row per NPC
            std::size_t batch = 0;
            tokens.clear();
            for (std::size_t i = 0; i < villagers_.size(); ++i) {
                const auto& words = villagers_[i].to_hear;
                const std::size_t n = std::min(per_npc, words.size() - fed[i]);
                if (n == 0) continue;
                tokens.insert(tokens.end(), words.begin() + static_cast<std::ptrdiff_t>(fed[i]),
                              words.begin() + static_cast<std::ptrdiff_t>(fed[i] + n));
                fed[i] += n;
                batch_lengths_[batch] = n;
                batch_states_[batch] = &villagers_[i].memory;
                batch_who_[batch++] = i;
            }
            model_.forward_batch(tokens, std::span(batch_lengths_).first(batch), std::span(batch_states_).first(batch),
                                 ws, batch_logits_);
            for (std::size_t g = 0; g < batch; ++g)
                if (fed[batch_who_[g]] == villagers_[batch_who_[g]].to_hear.size())
                    copy_row(g, batch_who_[g]);
        }
        for (auto& v : villagers_) v.to_hear.clear();
    }

    // Samples v's next token and adds its text to v.line. Returns the token to feed, or nothing when
    // the line is over: the token that ended it is kept in to_hear, so the next turn feeds it first.
    std::optional<std::int32_t> say_next_token(villager& v, std::span<const float> logits) {
        const std::int32_t token = v.sampler.sample(logits);
        v.sampler.accept(token);
        if (token == tokenizer_.end_of_text_id()) {
            v.to_hear.insert(v.to_hear.end(), newline_.begin(), newline_.end());
            v.utf8.flush(v.line);
            return std::nullopt;
        }
        const std::string_view bytes = tokenizer_.token_bytes(token);
        const std::size_t newline = bytes.find('\n');
        v.utf8.push(bytes.substr(0, newline), v.line);
        if (newline != std::string_view::npos) {
            v.to_hear.push_back(token);  // to_hear has room reserved: no allocation
            v.utf8.flush(v.line);
            return std::nullopt;
        }
        return token;
    }

    // One batched decode step of the first `talking` NPCs in batch_tokens_/batch_states_.
    void step(std::size_t talking) {
        model_.forward_batch(std::span(batch_tokens_).first(talking), {}, std::span(batch_states_).first(talking),
                             workspace_, batch_logits_);
        for (std::size_t g = 0; g < talking; ++g) copy_row(g, batch_who_[g]);
    }

    std::span<float> row(std::vector<float>& m, std::size_t r) { return std::span(m).subspan(r * vocab_, vocab_); }
    void copy_row(std::size_t batch_row, std::size_t npc) {
        std::memcpy(row(logits_, npc).data(), row(batch_logits_, batch_row).data(), vocab_ * sizeof(float));
    }

    const model_type& model_;
    const rwkv::text::any_tokenizer& tokenizer_;
    std::size_t vocab_, max_line_tokens_;
    std::vector<std::int32_t> newline_;
    std::vector<villager> villagers_;
    workspace_type workspace_;
    std::vector<float> logits_;        // [NPCs, V]: row i is NPC i's next-token logits
    std::vector<float> batch_logits_;  // [NPCs, V]: row g is the g-th NPC of the last batched call
    std::vector<std::int32_t> batch_tokens_;
    std::vector<std::size_t> batch_lengths_;
    std::vector<rwkv::state*> batch_states_;
    std::vector<std::size_t> batch_who_;  // which NPC each batch row is
};

}  // namespace npc
