// rwkv-server — an OpenAI-compatible HTTP server for RWKV models (docs/server.md).
//
//   rwkv-server --model F [--vocab V] [--host 127.0.0.1] [--port 8080] [--threads N] [--api-key K]
//               [--max-sessions N] [--state-dir D] ...
// Prints "listening on http://HOST:PORT" on stderr once it accepts connections (port 0: a free port,
// the real one printed); SIGTERM or SIGINT stops it: no new requests, running ones get a grace
// period, then exit 0.
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <pthread.h>
#include <sstream>
#include <string>
#include <thread>

#include "api_error.hpp"
#include "engine.hpp"
#include "request.hpp"
#include "responses.hpp"
#include "scheduler.hpp"

namespace rwkv_server {
namespace {

struct server_options {
    engine_options model;
    scheduler_options sched;
    request_limits limits;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string api_key;
    std::size_t max_body_bytes = 1u << 20;
    std::size_t max_prompt_tokens = 16384;
    double request_timeout_s = 600;
    double shutdown_grace_s = 10;
    std::size_t http_threads = 0;  // 0 = max_queue + 8: every queued request may hold a thread
};

void send_error(httplib::Response& res, const api_error& e) {
    res.status = e.status();
    res.set_content(error_body(e).dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

class server {
public:
    server(server_options o, engine& e) : o_(std::move(o)), engine_(e), sched_(e, o_.sched) {}

    void install(httplib::Server& http) {
        http.set_payload_max_length(o_.max_body_bytes);
        http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            if (o_.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
            if (req.get_header_value("Authorization") != "Bearer " + o_.api_key) {
                send_error(res, api_error(401, "invalid_request_error", "invalid_api_key", "invalid or missing API key"));
                return httplib::Server::HandlerResponse::Handled;
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
        // httplib answers unknown routes (404), oversized bodies (413) and the like with an empty
        // body: give each the OpenAI error object.
        http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;
            switch (res.status) {
                case 404: send_error(res, api_error(404, "invalid_request_error", "not_found",
                                                    "no route " + req.method + " " + req.path)); break;
                case 413: send_error(res, api_error(413, "invalid_request_error", "request_too_large",
                                                    "the request body is over the server's limit")); break;
                default: send_error(res, api_error(res.status, res.status >= 500 ? "server_error" : "invalid_request_error",
                                                   "http_" + std::to_string(res.status), "HTTP status " + std::to_string(res.status)));
            }
        });
        http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            try {
                std::rethrow_exception(ep);
            } catch (const api_error& e) {
                send_error(res, e);
            } catch (const std::exception& e) {
                send_error(res, api_error(500, "server_error", "internal_error", e.what()));
            } catch (...) {
                send_error(res, api_error(500, "server_error", "internal_error", "unknown error"));
            }
        });

        http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(json{{"status", "ok"}, {"model", engine_.info().id}}.dump(), "application/json");
        });
        http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
            const auto& i = engine_.info();
            json m = {{"id", i.id}, {"object", "model"}, {"created", started_}, {"owned_by", "rwkv"},
                      {"architecture", i.architecture}, {"precision", i.precision}, {"backend", i.backend}};
            res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
        });
        http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(metrics_text(), "text/plain; version=0.0.4");
        });
        http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
            generate(req, res, endpoint::completions);
        });
        http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
            generate(req, res, endpoint::chat_completions);
        });
        // Extension: save a session's state as a state file in --state-dir, for "state": NAME.
        http.Post(R"(/v1/sessions/([A-Za-z0-9_.-]+)/save)", [this](const httplib::Request& req, httplib::Response& res) {
            save_session(req, res);
        });
        http.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) { embeddings(req, res); });
    }

    void stop(double grace_s) { sched_.stop(std::chrono::milliseconds(static_cast<long long>(grace_s * 1000))); }

private:
    std::string next_id(const char* prefix) { return prefix + std::to_string(started_) + "-" + std::to_string(++ids_); }

    std::vector<std::int32_t> tokenize(const std::string& text) const {
        auto ids = engine_.tokenizer().encode(text);
        if (ids.empty()) throw bad_field("prompt", "the prompt encodes to no tokens");
        if (ids.size() > o_.max_prompt_tokens)
            throw api_error(400, "invalid_request_error", "context_length_exceeded",
                            "the prompt is " + std::to_string(ids.size()) + " tokens; this server takes at most " +
                                std::to_string(o_.max_prompt_tokens),
                            "prompt");
        return ids;
    }

    clock_type::time_point deadline() const {
        return clock_type::now() + std::chrono::milliseconds(static_cast<long long>(o_.request_timeout_s * 1000));
    }

    void generate(const httplib::Request& req, httplib::Response& res, endpoint kind) {
        if (engine_.info().embedding)
            throw api_error(400, "invalid_request_error", "model_not_supported",
                            "the served model is an embedding model: use /v1/embeddings");
        parsed_request r = parse_request(req.body, kind, o_.limits);
        job_params p;
        p.prompt = tokenize(r.prompt);
        p.max_tokens = r.max_tokens;
        p.sampling = r.sampling;
        p.stop = r.stop;
        p.logprobs = r.logprobs;
        p.session = r.session;
        p.state_name = r.state_name;
        p.deadline = deadline();
        auto j = std::make_shared<job>(std::move(p));
        sched_.submit(j);
        response_ids ids{next_id(kind == endpoint::completions ? "cmpl-" : "chatcmpl-"),
                         r.model.empty() ? engine_.info().id : r.model};
        if (!r.stream) {
            j->wait_finished();
            std::string text;
            std::vector<float> lps;
            j->take(std::chrono::milliseconds(0), text, lps);
            const auto& result = j->result();
            if (result.error) throw *result.error;
            res.set_content(full_response(kind, ids, text, lps, r.logprobs, result).dump(-1, ' ', false,
                                                                                         json::error_handler_t::replace),
                            "application/json");
            return;
        }
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider(
            "text/event-stream",
            [j, kind, ids, r, first = true, lead_checked = false](std::size_t, httplib::DataSink& sink) mutable {
                std::string text;
                std::vector<float> lps;
                const bool finished = j->take(std::chrono::milliseconds(200), text, lps);
                if (!sink.is_writable()) {
                    j->cancel();  // the client went away: stop generating for it
                    return false;
                }
                // Chat content drops the space after "Assistant:", as the full response does.
                if (kind == endpoint::chat_completions && !lead_checked && !text.empty()) {
                    if (text.front() == ' ') text.erase(0, 1);
                    lead_checked = true;
                }
                if (!text.empty() || !lps.empty()) {
                    const auto s = sse(stream_chunk(kind, ids, text, lps, r.logprobs, "", first));
                    first = false;
                    if (!sink.write(s.data(), s.size())) {
                        j->cancel();
                        return false;
                    }
                }
                if (!finished) return true;
                const auto& result = j->result();
                std::string tail;
                if (result.error) {
                    tail = sse(error_body(*result.error));
                } else {
                    tail = sse(stream_chunk(kind, ids, "", {}, false, result.finish_reason.empty() ? "stop" : result.finish_reason, first));
                    if (r.include_usage_in_stream) {
                        json u = {{"id", ids.id}, {"object", kind == endpoint::completions ? "text_completion" : "chat.completion.chunk"},
                                  {"created", ids.created}, {"model", ids.model}, {"choices", json::array()},
                                  {"usage", usage_json(result)}};
                        tail += sse(u);
                    }
                }
                tail += "data: [DONE]\n\n";
                sink.write(tail.data(), tail.size());
                sink.done();
                return true;
            },
            [j](bool) { j->cancel(); });  // after a finished job this is a no-op; otherwise it stops it
    }

    void save_session(const httplib::Request& req, httplib::Response& res) {
        json body;
        try {
            body = json::parse(req.body.empty() ? std::string("{}") : req.body);
        } catch (const json::exception& e) {
            throw api_error(400, "invalid_request_error", "invalid_json", std::string("the body is not valid JSON: ") + e.what());
        }
        if (!body.is_object()) throw api_error(400, "invalid_request_error", "invalid_json", "the body must be a JSON object");
        job_params p;
        p.session = detail::name_field(json{{"session", req.matches[1].str()}}, "session");
        p.save_as = detail::name_field(body, "name");
        if (p.save_as.empty()) throw bad_field("name", "'name' (the state file's name) is required");
        auto j = std::make_shared<job>(std::move(p));
        sched_.submit(j);
        j->wait_finished();
        if (j->result().error) throw *j->result().error;
        res.set_content(json{{"object", "state"}, {"session", j->params.session}, {"name", j->params.save_as},
                             {"tokens", j->result().prompt_tokens}}.dump(),
                        "application/json");
    }

    void embeddings(const httplib::Request& req, httplib::Response& res) {
        if (!engine_.info().embedding)
            throw api_error(400, "invalid_request_error", "model_not_supported",
                            "the served model is not an EmbeddingRWKV model (start the server with one)");
        const parsed_request r = parse_request(req.body, endpoint::embeddings, o_.limits);
        job_params p;
        for (const auto& text : r.inputs) {
            auto ids = tokenize(text);
            ids.push_back(65535);  // EmbeddingRWKV pools at its EOS token (include/rwkv/models/embedding.hpp)
            p.inputs.push_back(std::move(ids));
        }
        p.deadline = deadline();
        auto j = std::make_shared<job>(std::move(p));
        sched_.submit(j);
        j->wait_finished();
        const auto& result = j->result();
        if (result.error) throw *result.error;
        json data = json::array();
        for (std::size_t i = 0; i < result.embeddings.size(); ++i)
            data.push_back({{"object", "embedding"},
                            {"index", i},
                            {"embedding", r.base64 ? json(base64_floats(result.embeddings[i])) : json(result.embeddings[i])}});
        res.set_content(json{{"object", "list"},
                             {"data", std::move(data)},
                             {"model", r.model.empty() ? engine_.info().id : r.model},
                             {"usage", {{"prompt_tokens", result.prompt_tokens}, {"total_tokens", result.prompt_tokens}}}}
                            .dump(),
                        "application/json");
    }

    std::string metrics_text() const {
        const auto m = sched_.metrics();
        std::ostringstream out;
        auto metric = [&](const char* name, const char* type, const char* help, auto value) {
            out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
                << name << ' ' << value << '\n';
        };
        metric("rwkv_requests_total", "counter", "Generation and embedding requests accepted.", m.requests);
        metric("rwkv_requests_rejected_total", "counter", "Requests answered 429 (queue full).", m.rejected);
        metric("rwkv_requests_cancelled_total", "counter", "Requests cancelled (client gone or shutdown).", m.cancelled);
        metric("rwkv_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", m.prompt_tokens);
        metric("rwkv_prefill_tokens_total", "counter", "Prompt tokens actually run through the model.", m.prefill_tokens);
        metric("rwkv_cached_prompt_tokens_total", "counter", "Prompt tokens served from a session or prefix state.",
               m.cached_tokens);
        metric("rwkv_generated_tokens_total", "counter", "Tokens generated.", m.generated_tokens);
        metric("rwkv_tokens_per_second", "gauge", "Tokens generated per second over the last few seconds.",
               m.tokens_per_second);
        metric("rwkv_batch_steps_total", "counter", "Batched model steps.", m.steps);
        metric("rwkv_batch_step_tokens_total", "counter", "Tokens over all batched steps.", m.step_tokens);
        metric("rwkv_queue_depth", "gauge", "Requests waiting for a batch slot.", m.queue_depth);
        metric("rwkv_active_requests", "gauge", "Requests in the running batch.", m.active);
        metric("rwkv_active_sessions", "gauge", "Session states kept.", m.sessions);
        metric("rwkv_session_bytes", "gauge", "Bytes held by session states.", m.session_bytes);
        metric("rwkv_prefix_cache_entries", "gauge", "Prefix-cache states kept.", m.prefix_entries);
        metric("rwkv_prefix_cache_bytes", "gauge", "Bytes held by the prefix cache.", m.prefix_bytes);
        return out.str();
    }

    server_options o_;
    engine& engine_;
    scheduler sched_;
    std::int64_t started_ = unix_seconds();
    std::atomic<std::uint64_t> ids_{0};
};

// SIGTERM/SIGINT are blocked in every thread and taken by sigwait in one, which stops the server:
// no work happens in a signal handler.
sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

int run(server_options o) {
    std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a failed write, not the end of the server
    const sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto eng = open_engine(o.model);
    server srv(o, *eng);
    httplib::Server http;
    const std::size_t threads = o.http_threads ? o.http_threads : o.sched.max_queue + 8;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    srv.install(http);
    const int port = o.port == 0 ? http.bind_to_any_port(o.host) : (http.bind_to_port(o.host, o.port) ? o.port : -1);
    if (port < 0) throw rwkv::io_error("cannot listen on " + o.host + ":" + std::to_string(o.port));

    std::atomic<bool> stopping{false};
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        stopping = true;
        std::fprintf(stderr, "rwkv-server: signal %d: stopping\n", sig);
        srv.stop(o.shutdown_grace_s);  // running requests finish (or are cancelled after the grace)
        http.stop();
    });
    std::fprintf(stderr, "rwkv-server: %s (%s, %s, %s) on %zu threads\n", eng->info().id.c_str(),
                 eng->info().architecture.c_str(), eng->info().backend.c_str(), eng->info().precision.c_str(),
                 o.model.threads);
    std::fprintf(stderr, "listening on http://%s:%d\n", o.host.c_str(), port);
    std::fflush(stderr);
    const bool ok = http.listen_after_bind();
    const bool by_signal = stopping.load();
    if (!by_signal) pthread_kill(waiter.native_handle(), SIGTERM);  // ended by itself: release the waiter
    waiter.join();
    return ok || by_signal ? 0 : 1;
}

}  // namespace
}  // namespace rwkv_server

int main(int argc, char** argv) {
    using rwkv_server::server_options;
    server_options o;
    std::string model;
    long long threads = static_cast<long long>(std::max(1u, std::thread::hardware_concurrency()));
    std::string state_dir;
    double session_mb = 512, prefix_mb = 256, body_kb = 1024;

    CLI::App app{"rwkv-server: an OpenAI-compatible HTTP server for RWKV models", "rwkv-server"};
    app.add_option("--model", model, "Checkpoint (.pth, .safetensors, GGUF; an EmbeddingRWKV one serves /v1/embeddings)")->required();
    app.add_option("--vocab", o.model.vocab, "World vocabulary, tokenizer.json or 'bytes'; default from the model");
    app.add_option("--precision", o.model.precision, "f32 | bf16 | f16 | int8 | int4")->capture_default_str();
    app.add_option("--host", o.host, "Address to bind (127.0.0.1: this machine only)")->capture_default_str();
    app.add_option("--port", o.port, "Port; 0 = any free port (the real one is printed)")->capture_default_str()->check(CLI::Range(0, 65535));
    app.add_option("--threads", threads, "Model threads")->capture_default_str()->check(CLI::Range(1, 1024));
    app.add_option("--api-key", o.api_key, "Require 'Authorization: Bearer KEY'");
    app.add_option("--max-sessions", o.sched.max_sessions, "Session states kept (LRU)")->capture_default_str();
    app.add_option("--session-memory-mb", session_mb, "Bytes of session states kept, MiB")->capture_default_str()->check(CLI::Range(0.0, 1e6));
    app.add_option("--prefix-cache-mb", prefix_mb, "Bytes of prefix-cache states kept, MiB (0 = off)")->capture_default_str()->check(CLI::Range(0.0, 1e6));
    app.add_option("--state-dir", state_dir, "Folder of state files a request may name with \"state\"");
    app.add_option("--max-batch", o.sched.max_batch, "Requests decoding together")->capture_default_str()->check(CLI::Range(1, 4096));
    app.add_option("--max-queue", o.sched.max_queue, "Requests admitted or waiting; more get 429")->capture_default_str()->check(CLI::Range(1, 65536));
    app.add_option("--prefill-chunk", o.sched.prefill_chunk, "Prompt tokens a request feeds per step")->capture_default_str()->check(CLI::Range(1, 65536));
    app.add_option("--step-tokens", o.sched.max_step_tokens, "Prompt tokens per batched step, all requests together (decoding tokens come on top)")->capture_default_str()->check(CLI::Range(1, 65536));
    app.add_option("--max-body-kb", body_kb, "Largest request body, KiB (413 above)")->capture_default_str()->check(CLI::Range(1.0, 1e6));
    app.add_option("--max-prompt-tokens", o.max_prompt_tokens, "Longest prompt, tokens")->capture_default_str()->check(CLI::Range(1, 1 << 24));
    app.add_option("--max-tokens-cap", o.limits.max_tokens_cap, "Largest max_tokens a request may ask")->capture_default_str()->check(CLI::Range(0, 1 << 24));
    app.add_option("--timeout", o.request_timeout_s, "Seconds one request may run")->capture_default_str()->check(CLI::Range(0.001, 1e6));
    app.add_option("--shutdown-grace", o.shutdown_grace_s, "Seconds running requests get on SIGTERM")->capture_default_str()->check(CLI::Range(0.0, 3600.0));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    o.model.model = model;
    o.model.threads = static_cast<std::size_t>(threads);
    o.model.max_step_tokens = o.sched.max_step_tokens + o.sched.max_batch;  // prompt chunks + one token per decoding job
    o.sched.state_dir = state_dir;
    o.sched.session_bytes = static_cast<std::size_t>(session_mb * 1048576.0);
    o.sched.prefix_bytes = static_cast<std::size_t>(prefix_mb * 1048576.0);
    if (prefix_mb == 0) o.sched.prefix_entries = 0;
    o.max_body_bytes = static_cast<std::size_t>(body_kb * 1024.0);
    o.limits.default_max_tokens = std::min<std::int64_t>(256, o.limits.max_tokens_cap);
    try {
        return rwkv_server::run(std::move(o));
    } catch (const std::exception& e) {
        std::string msg = e.what();
        for (auto& ch : msg)
            if (ch == '\n' || ch == '\r') ch = ' ';
        std::fprintf(stderr, "rwkv-server: error: %s\n", msg.c_str());
        return 1;
    }
}
