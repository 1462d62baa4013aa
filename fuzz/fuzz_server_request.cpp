// Fuzz target: rwkv-server's request parser and validator (tools/server/request.hpp) and the
// response/error bodies built from what it accepts (tools/server/responses.hpp).
//
// Input: the first byte picks the endpoint (completions, chat, embeddings), the rest is the body.
// Oracles:
//  * parse_request throws nothing but rwkv_server::api_error, always with a 4xx status;
//  * what it accepts is within the limits: max_tokens in [0, cap], temperature finite and ≥ 0,
//    top_p in (0, 1], a non-empty prompt (or inputs), at most the stop strings allowed;
//  * a chat transcript ends with "Assistant:" and the chat stop "\n\n" is first;
//  * every body the server would send (error or response) serialises as JSON, whatever bytes the
//    request held (invalid UTF-8 is replaced, never thrown on).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../tools/server/api_error.hpp"
#include "../tools/server/request.hpp"
#include "fuzz_support.hpp"

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_server_request: oracle failed: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    using namespace rwkv_server;
    const auto kind = static_cast<endpoint>(data[0] % 3);
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    request_limits lim;
    lim.max_tokens_cap = 1000;
    lim.default_max_tokens = 100;
    try {
        const parsed_request r = parse_request(body, kind, lim);
        using json = nlohmann::json;
        if (kind == endpoint::embeddings) {
            require(!r.inputs.empty() && r.inputs.size() <= lim.max_inputs, "embedding inputs within bounds");
            for (const auto& in : r.inputs) require(!in.empty(), "no empty embedding input");
            return 0;
        }
        require(!r.prompt.empty(), "a prompt");
        require(r.max_tokens >= 0 && r.max_tokens <= lim.max_tokens_cap, "max_tokens within the cap");
        require(std::isfinite(r.sampling.temperature) && r.sampling.temperature >= 0, "temperature ≥ 0");
        require(r.sampling.top_p > 0 && r.sampling.top_p <= 1, "top_p in (0, 1]");
        require(r.stop.size() <= lim.max_stop_strings + 1, "stop strings bounded");
        for (const auto& s : r.stop) require(!s.empty() && s.size() <= lim.max_stop_bytes, "stop strings non-empty, bounded");
        if (kind == endpoint::chat_completions) {
            require(r.prompt.ends_with("Assistant:"), "a chat transcript ends with 'Assistant:'");
            require(!r.stop.empty() && r.stop.front() == "\n\n", "chat stops at a blank line");
        }
        for (const char c : r.session + r.state_name)
            require(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.', "plain names");
        // Echoing the prompt and model back must serialise whatever the bytes are.
        (void)json{{"model", r.model}, {"prompt", r.prompt}}.dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const api_error& e) {
        require(e.status() >= 400 && e.status() < 500, "errors are 4xx");
        (void)error_body(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return 0;
}
