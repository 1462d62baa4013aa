// rwkv/generate/chat_format.hpp — the RWKV chat format, shared by every chat front end (rwkv-cli chat,
// examples/chat): what to feed for a system prompt and a user turn, where an answer ends, and the
// streaming of an answer's bytes as whole UTF-8 characters.
//
// The format the released RWKV World/G1 models were tuned on:
//   "System: <prompt>\n\n"            once, before the first turn (optional)
//   "User: <message>\n\nAssistant:"   per turn; the model then writes " <answer>\n\n"
// "\n\n" ends a turn, so a message must not contain a blank line: runs of line breaks inside it
// become one "\n" (as ChatRWKV's chat does), and surrounding white space is dropped. A front end
// feeds only the new text of each turn into the state that holds the conversation so far; the
// history is never fed again.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "rwkv/text/utf8.hpp"

namespace rwkv::generate::chat_format {

inline constexpr std::string_view assistant_prefix = "Assistant:";
inline constexpr std::string_view end_of_turn = "\n\n";

// The message with surrounding white space trimmed and every run of line breaks ("\r" included)
// made a single "\n", so it cannot end the turn early.
inline std::string clean_message(std::string_view message) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!message.empty() && space(message.front())) message.remove_prefix(1);
    while (!message.empty() && space(message.back())) message.remove_suffix(1);
    std::string out;
    out.reserve(message.size());
    for (const char c : message) {
        const bool line_break = c == '\n' || c == '\r';
        if (line_break && !out.empty() && out.back() == '\n') continue;
        out += line_break ? '\n' : c;
    }
    return out;
}

// "System: <prompt>\n\n", or nothing for an empty prompt.
inline std::string system_text(std::string_view prompt) {
    const std::string p = clean_message(prompt);
    return p.empty() ? std::string() : "System: " + p + "\n\n";
}

// "User: <message>\n\nAssistant:" — what to feed for one turn.
inline std::string user_turn(std::string_view message) {
    return "User: " + clean_message(message) + "\n\n" + std::string(assistant_prefix);
}

// One answer as it is sampled: collects the token bytes, releases them as complete UTF-8 characters
// for display (a World token can end mid-character) and says when the turn is over.
class answer_stream {
public:
    // Adds one token's bytes and appends the newly complete characters to `shown`. Returns true once
    // the answer holds "\n\n" (the turn is over; that token's bytes are still shown).
    bool push(std::string_view bytes, std::string& shown) {
        const std::size_t before = text_.size();
        text_ += bytes;
        utf8_.push(bytes, shown);
        const std::size_t from = before == 0 ? 0 : before - 1;  // "\n\n" may straddle two tokens
        ended_ = ended_ || text_.find(end_of_turn, from) != std::string::npos;
        return ended_;
    }

    // Ends the stream: a held-back incomplete character becomes U+FFFD in `shown`.
    void finish(std::string& shown) { utf8_.flush(shown); }

    [[nodiscard]] bool ended() const noexcept { return ended_; }
    [[nodiscard]] const std::string& text() const noexcept { return text_; }

    // What to feed after an answer that was cut off (a token limit, end of text) so that the next
    // "User:" starts a new paragraph as the format expects: "\n\n", "\n" or nothing.
    [[nodiscard]] std::string_view closing() const noexcept {
        if (ended_) return {};
        return text_.ends_with('\n') ? std::string_view("\n") : end_of_turn;
    }

private:
    std::string text_;
    rwkv::text::utf8_stream_decoder utf8_;
    bool ended_ = false;
};

}  // namespace rwkv::generate::chat_format
