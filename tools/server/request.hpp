// tools/server/request.hpp — a request body (JSON text) to a plain, validated struct.
//
// Everything a client can send goes through parse_request(); anything wrong with it is an api_error
// (400, naming the field), never another exception, so a handler only has to catch that one type.
// Header-only and free of the model and of HTTP, so fuzz/fuzz_server_request.cpp tests it alone.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "rwkv/generate/sampler.hpp"

namespace rwkv_server {

enum class endpoint { completions, chat_completions, embeddings };

// Server-wide bounds a request is checked against.
struct request_limits {
    std::int64_t max_tokens_cap = 4096;     // the most tokens one request may ask for
    std::int64_t default_max_tokens = 256;  // when the request names none
    std::size_t max_stop_strings = 4;
    std::size_t max_stop_bytes = 256;
    std::size_t max_inputs = 256;  // embeddings: texts in one request
};

struct parsed_request {
    endpoint kind = endpoint::completions;
    std::string prompt;                 // completions: the text; chat: the RWKV chat transcript
    std::vector<std::string> inputs;    // embeddings
    bool base64 = false;                // embeddings: "encoding_format": "base64" (the openai SDK's default)
    std::int64_t max_tokens = 0;
    rwkv::generate::sampler_config sampling{};
    std::vector<std::string> stop;      // the text ends before the first of these
    bool stream = false;
    bool include_usage_in_stream = false;  // stream_options.include_usage
    bool logprobs = false;              // completions: logprobs ≥ 0 → token_logprobs; chat: logprobs true
    std::string session;                // keep the conversation's state server-side under this id
    std::string state_name;             // initial state: a file in --state-dir
    std::string model;                  // echoed back; any value is accepted (one model is served)
};

namespace detail {

using json = nlohmann::json;

inline const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) return nullptr;
    return &*it;
}

inline double number_field(const json& body, const char* name, double fallback, double lo, double hi) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number()) throw bad_field(name, std::string("'") + name + "' must be a number");
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
        throw bad_field(name, std::string("'") + name + "' must be between " + json(lo).dump() + " and " +
                                  json(hi).dump());
    return x;
}

inline std::string string_field(const json& body, const char* name, std::size_t max_bytes = 256) {
    const json* v = field(body, name);
    if (!v) return {};
    if (!v->is_string()) throw bad_field(name, std::string("'") + name + "' must be a string");
    auto s = v->get<std::string>();
    if (s.size() > max_bytes)
        throw bad_field(name, std::string("'") + name + "' is longer than " + std::to_string(max_bytes) + " bytes");
    return s;
}

// Session ids and state names become map keys and file names: a short, plain alphabet only.
inline std::string name_field(const json& body, const char* name) {
    auto s = string_field(body, name, 128);
    for (const char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            throw bad_field(name, std::string("'") + name + "' may only contain letters, digits, '-', '_' and '.'");
    if (s == "." || s == ".." || (!s.empty() && s.front() == '.'))
        throw bad_field(name, std::string("'") + name + "' must not start with '.'");
    return s;
}

// "content" is a string or (newer clients) an array of {"type": "text", "text": ...} parts.
inline std::string message_content(const json& m, std::size_t i) {
    const std::string where = "messages[" + std::to_string(i) + "].content";
    const auto it = m.find("content");
    if (it == m.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_array()) throw bad_field(where, "'" + where + "' must be a string or an array of text parts");
    std::string out;
    for (const auto& part : *it) {
        if (!part.is_object() || part.value("type", std::string()) != "text" || !part.contains("text") ||
            !part["text"].is_string())
            throw bad_field(where, "'" + where + "' parts must be {\"type\": \"text\", \"text\": string}");
        out += part["text"].get<std::string>();
    }
    return out;
}

// The RWKV chat format (as examples/chat): "System: …\n\n", "User: …\n\n", "Assistant: …\n\n", ending
// with "Assistant:" for the model to continue; the answer ends at "\n\n". Blank lines inside a
// message would read as a turn end, so runs of newlines in content become one.
inline std::string chat_transcript(const json& messages) {
    if (!messages.is_array() || messages.empty())
        throw bad_field("messages", "'messages' must be a non-empty array");
    std::string out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const json& m = messages[i];
        if (!m.is_object()) throw bad_field("messages", "every message must be an object");
        const auto role_it = m.find("role");
        if (role_it == m.end() || !role_it->is_string())
            throw bad_field("messages[" + std::to_string(i) + "].role", "every message needs a string 'role'");
        const std::string role = role_it->get<std::string>();
        std::string speaker;
        if (role == "system" || role == "developer") speaker = "System";
        else if (role == "user") speaker = "User";
        else if (role == "assistant") speaker = "Assistant";
        else
            throw bad_field("messages[" + std::to_string(i) + "].role",
                            "role must be system, developer, user or assistant (got '" + role + "')");
        std::string content;
        for (const char c : message_content(m, i)) {
            if (c == '\r') continue;
            if (c == '\n' && !content.empty() && content.back() == '\n') continue;
            content += c;
        }
        while (!content.empty() && (content.back() == '\n' || content.back() == ' ')) content.pop_back();
        while (!content.empty() && (content.front() == '\n' || content.front() == ' ')) content.erase(0, 1);
        out += speaker + ": " + content + "\n\n";
    }
    out += "Assistant:";
    return out;
}

inline std::vector<std::string> stop_field(const json& body, const request_limits& lim) {
    const json* v = field(body, "stop");
    std::vector<std::string> out;
    if (!v) return out;
    auto add = [&](const json& s) {
        if (!s.is_string()) throw bad_field("stop", "'stop' must be a string or an array of strings");
        auto text = s.get<std::string>();
        if (text.empty()) throw bad_field("stop", "'stop' strings must not be empty");
        if (text.size() > lim.max_stop_bytes)
            throw bad_field("stop", "'stop' strings are limited to " + std::to_string(lim.max_stop_bytes) + " bytes");
        out.push_back(std::move(text));
    };
    if (v->is_array()) {
        if (v->size() > lim.max_stop_strings)
            throw bad_field("stop", "at most " + std::to_string(lim.max_stop_strings) + " stop strings");
        for (const auto& s : *v) add(s);
    } else {
        add(*v);
    }
    return out;
}

inline void embedding_inputs(const json& body, parsed_request& r, const request_limits& lim) {
    const json* v = field(body, "input");
    if (!v) throw bad_field("input", "'input' is required");
    auto add = [&](const json& s) {
        if (!s.is_string() || s.get_ref<const std::string&>().empty())
            throw bad_field("input", "'input' must be a non-empty string or an array of non-empty strings");
        r.inputs.push_back(s.get<std::string>());
    };
    if (v->is_array()) {
        if (v->empty() || v->size() > lim.max_inputs)
            throw bad_field("input", "'input' must hold 1 to " + std::to_string(lim.max_inputs) + " strings");
        for (const auto& s : *v) add(s);
    } else {
        add(*v);
    }
}

}  // namespace detail

// Parses and validates one request body. Throws api_error only.
inline parsed_request parse_request(std::string_view body_text, endpoint kind, const request_limits& lim = {}) {
    using detail::json;
    json body;
    try {
        body = json::parse(body_text);
    } catch (const json::exception& e) {
        throw api_error(400, "invalid_request_error", "invalid_json",
                        std::string("the body is not valid JSON: ") + e.what());
    }
    if (!body.is_object()) throw api_error(400, "invalid_request_error", "invalid_json", "the body must be a JSON object");

    parsed_request r;
    r.kind = kind;
    r.model = detail::string_field(body, "model", 256);
    if (kind == endpoint::embeddings) {
        detail::embedding_inputs(body, r, lim);
        const std::string format = detail::string_field(body, "encoding_format", 16);
        if (!format.empty() && format != "float" && format != "base64")
            throw bad_field("encoding_format", "'encoding_format' must be float or base64");
        r.base64 = format == "base64";
        return r;
    }
    if (kind == endpoint::completions) {
        const json* p = detail::field(body, "prompt");
        if (!p) throw bad_field("prompt", "'prompt' is required");
        if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];  // ["text"] is one prompt
        if (!p->is_string()) throw bad_field("prompt", "'prompt' must be a string");
        r.prompt = p->get<std::string>();
        if (r.prompt.empty()) throw bad_field("prompt", "'prompt' must not be empty");
    } else {
        const json* m = detail::field(body, "messages");
        if (!m) throw bad_field("messages", "'messages' is required");
        r.prompt = detail::chat_transcript(*m);
        r.stop.push_back("\n\n");  // a turn ends at a blank line
    }

    const json* mt = detail::field(body, kind == endpoint::chat_completions && detail::field(body, "max_completion_tokens")
                                             ? "max_completion_tokens"
                                             : "max_tokens");
    if (mt) {
        if (!mt->is_number_integer() || mt->get<std::int64_t>() < 0 || mt->get<std::int64_t>() > lim.max_tokens_cap)
            throw bad_field("max_tokens", "'max_tokens' must be an integer from 0 to " + std::to_string(lim.max_tokens_cap));
        r.max_tokens = mt->get<std::int64_t>();
    } else {
        r.max_tokens = std::min(lim.default_max_tokens, lim.max_tokens_cap);
    }
    if (const json* n = detail::field(body, "n"); n && !(n->is_number_integer() && n->get<std::int64_t>() == 1))
        throw bad_field("n", "only n = 1 is supported");

    r.sampling.temperature = static_cast<float>(detail::number_field(body, "temperature", 1.0, 0.0, 100.0));
    r.sampling.top_p = static_cast<float>(detail::number_field(body, "top_p", 1.0, 0.0, 1.0));
    if (r.sampling.top_p <= 0.0f) throw bad_field("top_p", "'top_p' must be greater than 0");
    r.sampling.top_k = static_cast<std::int32_t>(detail::number_field(body, "top_k", 0, 0, 1 << 20));
    r.sampling.min_p = static_cast<float>(detail::number_field(body, "min_p", 0.0, 0.0, 1.0));
    r.sampling.presence_penalty = static_cast<float>(detail::number_field(body, "presence_penalty", 0.0, -2.0, 2.0));
    r.sampling.frequency_penalty = static_cast<float>(detail::number_field(body, "frequency_penalty", 0.0, -2.0, 2.0));
    if (const json* s = detail::field(body, "seed")) {
        if (!s->is_number_integer()) throw bad_field("seed", "'seed' must be an integer");
        r.sampling.seed = s->is_number_unsigned() ? s->get<std::uint64_t>()
                                                  : static_cast<std::uint64_t>(s->get<std::int64_t>());
    }
    for (auto& s : detail::stop_field(body, lim)) r.stop.push_back(std::move(s));

    if (const json* s = detail::field(body, "stream")) {
        if (!s->is_boolean()) throw bad_field("stream", "'stream' must be a boolean");
        r.stream = s->get<bool>();
    }
    if (const json* so = detail::field(body, "stream_options")) {
        if (!so->is_object()) throw bad_field("stream_options", "'stream_options' must be an object");
        const auto it = so->find("include_usage");
        if (it != so->end() && !it->is_boolean()) throw bad_field("stream_options", "'include_usage' must be a boolean");
        r.include_usage_in_stream = it != so->end() && it->get<bool>();
    }
    if (const json* lp = detail::field(body, "logprobs")) {
        if (lp->is_boolean()) r.logprobs = lp->get<bool>();
        else if (lp->is_number_integer() && lp->get<std::int64_t>() >= 0 && lp->get<std::int64_t>() <= 5) r.logprobs = true;
        else throw bad_field("logprobs", "'logprobs' must be a boolean or an integer from 0 to 5");
    }
    r.session = detail::name_field(body, "session");
    // OpenAI's "user" names the end user; it serves as the session id when it is a plain name (any
    // other value is ignored: a session only ever reuses a state whose tokens the prompt starts with,
    // so sharing one changes no output).
    if (r.session.empty()) {
        try {
            r.session = detail::name_field(body, "user");
        } catch (const api_error&) {
            r.session.clear();
        }
    }
    r.state_name = detail::name_field(body, "state");
    return r;
}

}  // namespace rwkv_server
