// tools/server/scheduler.hpp — the one thread that runs the model, and the jobs handlers give it.
//
// HTTP handler threads tokenize, submit() a job and then wait on it (or stream from it); they never
// touch the model. The scheduler thread admits jobs up to --max-batch, and each step batches every
// active job into one engine::step (continuous batching): a decoding job contributes its next token,
// a job still reading its prompt a chunk of at most prefill_chunk tokens, so one long prompt never
// stalls the others for more than a chunk. States live in the scheduler: a finished job's state goes
// to its session, a prompt's state to the prefix cache.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api_error.hpp"
#include "engine.hpp"
#include "rwkv/generate/sampler.hpp"

namespace rwkv_server {

using clock_type = std::chrono::steady_clock;

struct job_params {
    std::vector<std::int32_t> prompt;              // token ids (non-empty) — or, for embeddings:
    std::vector<std::vector<std::int32_t>> inputs;  // one token list per text, EOS included
    std::int64_t max_tokens = 0;
    rwkv::generate::sampler_config sampling{};
    std::vector<std::string> stop;
    bool logprobs = false;
    std::string session, state_name;
    std::string save_as;  // set: no generation; write the session's state to --state-dir/<save_as>.rwkvstate
    clock_type::time_point deadline = clock_type::time_point::max();
};

// What a finished job reports.
struct job_result {
    std::string finish_reason;  // stop | length | cancelled
    std::size_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
    std::optional<api_error> error;
    std::vector<std::vector<float>> embeddings;
};

class job {
public:
    explicit job(job_params p) : params(std::move(p)) {}
    const job_params params;

    // Waits up to `timeout` for news; moves the text (and its tokens' logprobs) produced since the last
    // call into the arguments. Returns true once the job has finished and everything was taken.
    bool take(std::chrono::milliseconds timeout, std::string& text, std::vector<float>& logprobs);
    void wait_finished();
    const job_result& result() const noexcept { return result_; }  // valid once finished
    void cancel() noexcept { cancelled_.store(true); }
    bool cancelled() const noexcept { return cancelled_.load(); }

    // Scheduler side.
    void publish(std::string_view text, std::span<const float> logprobs);
    void finish(job_result r);

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::string text_;
    std::vector<float> logprobs_;
    bool finished_ = false;
    job_result result_;
    std::atomic<bool> cancelled_{false};
};

struct scheduler_options {
    std::size_t max_batch = 64;        // jobs decoding together
    std::size_t max_queue = 256;       // admitted + waiting; more is answered 429
    std::size_t prefill_chunk = 256;   // prompt tokens one job feeds per step (rwkv-cli's chunk, so
                                       // greedy output is bit-identical to rwkv-cli generate)
    std::size_t max_step_tokens = 256; // Σ prompt tokens per step; the engine's workspace holds
                                       // this + max_batch (every decoding job's token on top)
    std::size_t max_sessions = 64;
    std::size_t session_bytes = 512u << 20;
    std::size_t prefix_entries = 256;
    std::size_t prefix_bytes = 256u << 20;
    std::filesystem::path state_dir;   // "" = no "state" field accepted
};

struct scheduler_metrics {
    std::uint64_t requests = 0, prompt_tokens = 0, prefill_tokens = 0, cached_tokens = 0, generated_tokens = 0,
                  steps = 0, step_tokens = 0, rejected = 0, cancelled = 0;
    std::size_t queue_depth = 0, active = 0, sessions = 0, session_bytes = 0, prefix_entries = 0,
                prefix_bytes = 0;
    double tokens_per_second = 0;  // generated, over the last few seconds
};

class scheduler {
public:
    scheduler(engine& e, scheduler_options o);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // Queues a job; api_error 429 when the queue is full, 503 while stopping.
    void submit(const std::shared_ptr<job>& j);
    // Stops taking jobs, lets the running ones finish for up to `grace`, cancels the rest, joins.
    void stop(std::chrono::milliseconds grace);
    scheduler_metrics metrics() const;

private:
    struct active_job;
    void run();
    void admit(const std::shared_ptr<job>& j);
    void run_embeddings(const std::shared_ptr<job>& j);
    void save_session(const std::shared_ptr<job>& j);
    void step();
    void sample_and_emit(active_job& a);
    void retire(active_job& a);

    engine& engine_;
    scheduler_options opt_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<job>> pending_;
    bool stopping_ = false;
    clock_type::time_point cancel_at_ = clock_type::time_point::max();

    struct impl;
    std::unique_ptr<impl> impl_;  // active jobs and the caches: the scheduler thread's own
    std::thread thread_;
};

}  // namespace rwkv_server
