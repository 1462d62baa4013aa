// tools/server/responses.hpp — OpenAI-shaped response bodies and stream chunks.
#pragma once

#include <bit>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.hpp"
#include "scheduler.hpp"

namespace rwkv_server {

using json = nlohmann::json;

inline std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// usage, with the prompt tokens a cached state (session or prefix) spared in
// prompt_tokens_details.cached_tokens, as OpenAI reports its own prompt caching.
inline json usage_json(const job_result& r) {
    return {{"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"total_tokens", r.prompt_tokens + r.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

// finish_reason as OpenAI spells it ("cancelled" never reaches a client that is still there).
inline json finish_json(const std::string& reason) {
    if (reason.empty()) return nullptr;
    return reason == "length" ? "length" : "stop";
}

inline json logprobs_json(endpoint kind, const std::vector<float>& lps) {
    if (kind == endpoint::completions) return {{"token_logprobs", lps}};
    json content = json::array();
    for (const float v : lps) content.push_back({{"logprob", v}});
    return {{"content", std::move(content)}};
}

struct response_ids {
    std::string id, model;
    std::int64_t created = unix_seconds();
};

inline json full_response(endpoint kind, const response_ids& ids, const std::string& text,
                          const std::vector<float>& lps, bool logprobs, const job_result& r) {
    json choice = {{"index", 0}, {"finish_reason", finish_json(r.finish_reason)}};
    choice["logprobs"] = logprobs ? logprobs_json(kind, lps) : json(nullptr);
    json out = {{"id", ids.id}, {"created", ids.created}, {"model", ids.model}};
    if (kind == endpoint::completions) {
        out["object"] = "text_completion";
        choice["text"] = text;
    } else {
        out["object"] = "chat.completion";
        std::string content = text;
        if (!content.empty() && content.front() == ' ') content.erase(0, 1);  // "Assistant: …"
        choice["message"] = {{"role", "assistant"}, {"content", content}};
    }
    out["choices"] = json::array({std::move(choice)});
    out["usage"] = usage_json(r);
    return out;
}

// One server-sent event's JSON: a text delta, or (finish non-empty) the closing chunk.
inline json stream_chunk(endpoint kind, const response_ids& ids, const std::string& text, const std::vector<float>& lps,
                         bool logprobs, const std::string& finish, bool first) {
    json choice = {{"index", 0}, {"finish_reason", finish_json(finish)}};
    choice["logprobs"] = logprobs && !lps.empty() ? logprobs_json(kind, lps) : json(nullptr);
    json out = {{"id", ids.id}, {"created", ids.created}, {"model", ids.model}};
    if (kind == endpoint::completions) {
        out["object"] = "text_completion";
        choice["text"] = text;
    } else {
        out["object"] = "chat.completion.chunk";
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!text.empty() || finish.empty()) delta["content"] = text;
        choice["delta"] = std::move(delta);
    }
    out["choices"] = json::array({std::move(choice)});
    return out;
}

// An embedding as OpenAI's base64 form: the little-endian float32 bytes, base64-encoded.
inline std::string base64_floats(const std::vector<float>& v) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes(v.size() * sizeof(float), '\0');
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto u = std::bit_cast<std::uint32_t>(v[i]);
        for (std::size_t b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<char>((u >> (8 * b)) & 0xffu);
    }
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (i + 1 < bytes.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        if (i + 2 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 2]);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? alphabet[n & 63] : '=';
    }
    return out;
}

inline std::string sse(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

}  // namespace rwkv_server
