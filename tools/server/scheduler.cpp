// tools/server/scheduler.cpp — see scheduler.hpp.
#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "rwkv/core/error.hpp"
#include "rwkv/state/state_file.hpp"
#include "rwkv/text/utf8.hpp"
#include "state_cache.hpp"

namespace rwkv_server {

// ---- job ---------------------------------------------------------------------------------------------
bool job::take(std::chrono::milliseconds timeout, std::string& text, std::vector<float>& logprobs) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return finished_ || !text_.empty() || !logprobs_.empty(); });
    text += text_;
    text_.clear();
    logprobs.insert(logprobs.end(), logprobs_.begin(), logprobs_.end());
    logprobs_.clear();
    return finished_;
}

void job::wait_finished() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return finished_; });
}

void job::publish(std::string_view text, std::span<const float> logprobs) {
    {
        std::lock_guard lk(mu_);
        text_ += text;
        logprobs_.insert(logprobs_.end(), logprobs.begin(), logprobs.end());
    }
    cv_.notify_all();
}

void job::finish(job_result r) {
    {
        std::lock_guard lk(mu_);
        if (finished_) return;
        result_ = std::move(r);
        finished_ = true;
    }
    cv_.notify_all();
}

// ---- scheduler state -------------------------------------------------------------------------------------
struct scheduler::active_job {
    std::shared_ptr<job> j;
    rwkv::state st;
    std::vector<std::int32_t> fed;  // every token st has consumed (after the initial state)
    std::vector<float> logits;      // after fed.back(), when logits_ready
    bool logits_ready = false;
    std::size_t prompt_pos = 0;     // next prompt token to feed
    std::size_t cached = 0;         // prompt tokens a cached state spared
    std::optional<std::int32_t> to_feed;  // the token just emitted, fed by the next step
    rwkv::generate::sampler sampler;
    rwkv::text::utf8_stream_decoder decoder;
    std::string text;               // everything decoded so far
    std::size_t emitted = 0;        // bytes of text handed to the job
    std::int64_t produced = 0;
    std::vector<float> pending_logprobs;
    bool done = false;
    std::string finish_reason;
    std::string error;  // set: the job failed (500) instead of finishing
};

struct scheduler::impl {
    impl(const scheduler_options& o)
        : sessions(o.max_sessions, o.session_bytes), prefixes(o.prefix_entries, o.prefix_bytes) {}
    std::vector<active_job> active;
    lru_state_store<std::string> sessions;
    prefix_cache prefixes;
    std::map<std::string, rwkv::state> state_files;  // loaded once each
    scheduler_metrics counters;
    // tokens/s over a window of a few seconds
    clock_type::time_point window_start = clock_type::now();
    std::uint64_t window_tokens = 0;
    std::uint64_t sampled = 0;  // tokens sampled since the counters were last updated
    // step buffers, reused
    std::vector<std::int32_t> tokens;
    std::vector<std::size_t> lengths;
    std::vector<rwkv::state*> states;
    std::vector<active_job*> members;
    std::vector<float> logits;
};

scheduler::scheduler(engine& e, scheduler_options o)
    : engine_(e), opt_(std::move(o)), impl_(std::make_unique<impl>(opt_)) {
    opt_.max_step_tokens = std::max<std::size_t>(opt_.max_step_tokens, 1);
    opt_.max_batch = std::max<std::size_t>(opt_.max_batch, 1);
    opt_.prefill_chunk = std::clamp<std::size_t>(opt_.prefill_chunk, 1, opt_.max_step_tokens);
    thread_ = std::thread([this] { run(); });
}

scheduler::~scheduler() { stop(std::chrono::milliseconds(0)); }

void scheduler::submit(const std::shared_ptr<job>& j) {
    {
        std::lock_guard lk(mu_);
        if (stopping_) throw api_error(503, "server_error", "shutting_down", "the server is shutting down");
        if (pending_.size() + impl_->counters.active >= opt_.max_queue) {
            ++impl_->counters.rejected;
            throw api_error(429, "rate_limit_error", "queue_full",
                            "too many requests in flight (" + std::to_string(opt_.max_queue) + "); retry later");
        }
        pending_.push_back(j);
        ++impl_->counters.requests;
    }
    cv_.notify_all();
}

void scheduler::stop(std::chrono::milliseconds grace) {
    {
        std::lock_guard lk(mu_);
        if (!stopping_) {
            stopping_ = true;
            cancel_at_ = clock_type::now() + grace;
        }
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

scheduler_metrics scheduler::metrics() const {
    std::lock_guard lk(mu_);
    auto m = impl_->counters;
    m.queue_depth = pending_.size();
    return m;
}

void scheduler::run() {
    for (;;) {
        std::vector<std::shared_ptr<job>> admitted;
        bool cancel_all = false;
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return stopping_ || !pending_.empty() || !impl_->active.empty(); });
            if (stopping_ && pending_.empty() && impl_->active.empty()) return;
            cancel_all = stopping_ && clock_type::now() >= cancel_at_;
            while (!pending_.empty() && impl_->active.size() + admitted.size() < opt_.max_batch) {
                admitted.push_back(std::move(pending_.front()));
                pending_.pop_front();
            }
        }
        for (auto& j : admitted) {
            if (cancel_all) j->cancel();
            admit(j);
        }
        if (cancel_all)
            for (auto& a : impl_->active) a.j->cancel();
        try {
            step();
        } catch (const std::exception& e) {  // last resort (e.g. bad_alloc): fail the running jobs only
            for (auto& a : impl_->active) {
                job_result r;
                r.error = api_error(500, "server_error", "internal_error", e.what());
                a.j->finish(std::move(r));
            }
            impl_->active.clear();
            std::lock_guard lk(mu_);
            impl_->counters.active = 0;
        }
    }
}

// Picks the best starting point for a job: its session's state, else the longest cached prefix, else
// its initial state (zero or a state file).
void scheduler::admit(const std::shared_ptr<job>& j) {
    if (!j->params.inputs.empty()) return run_embeddings(j);
    if (!j->params.save_as.empty()) return save_session(j);
    try {
        const auto& p = j->params;
        const std::string& initial = p.state_name;
        const cached_state* best = nullptr;
        if (!p.session.empty())
            if (const auto* s = impl_->sessions.find(p.session); s && s->prefixes(initial, p.prompt)) best = s;
        if (const auto* c = impl_->prefixes.longest_prefix(initial, p.prompt);
            c && (!best || c->tokens.size() > best->tokens.size()))
            best = c;

        active_job a{j, best ? best->st : engine_.make_state(), {}, {}, false, 0, 0, {},
                     rwkv::generate::sampler(p.sampling, static_cast<std::int32_t>(engine_.info().n_vocab)),
                     {}, {}, 0, 0, {}, false, {}, {}};
        if (best) {
            a.fed = best->tokens;
            a.prompt_pos = a.cached = best->tokens.size();
            if (a.prompt_pos == p.prompt.size()) {
                a.logits = best->logits;
                a.logits_ready = true;
            }
        } else if (!initial.empty()) {
            auto it = impl_->state_files.find(initial);
            if (it == impl_->state_files.end()) {
                if (opt_.state_dir.empty())
                    throw bad_field("state", "this server has no --state-dir, so 'state' cannot be used");
                const auto path = opt_.state_dir / (initial + ".rwkvstate");
                const auto alt = opt_.state_dir / initial;
                const auto& use = std::filesystem::is_regular_file(path) ? path : alt;
                if (!std::filesystem::is_regular_file(use))
                    throw api_error(404, "invalid_request_error", "state_not_found",
                                    "no state named '" + initial + "' in the state directory", "state");
                try {
                    if (impl_->state_files.size() >= 64) impl_->state_files.clear();
                    it = impl_->state_files.emplace(initial, engine_.load_state_file(use)).first;
                } catch (const rwkv::error& e) {
                    throw bad_field("state", std::string("state '") + initial + "' cannot be used: " + e.what());
                }
            }
            a.st = it->second;
        }
        a.logits.resize(engine_.info().n_vocab);
        std::lock_guard lk(mu_);
        impl_->counters.prompt_tokens += p.prompt.size();
        impl_->counters.cached_tokens += a.cached;
        impl_->active.push_back(std::move(a));
        impl_->counters.active = impl_->active.size();
    } catch (const api_error& e) {
        job_result r;
        r.error = e;
        j->finish(std::move(r));
    } catch (const std::exception& e) {
        job_result r;
        r.error = api_error(500, "server_error", "internal_error", e.what());
        j->finish(std::move(r));
    }
}

void scheduler::run_embeddings(const std::shared_ptr<job>& j) {
    job_result r;
    try {
        for (const auto& in : j->params.inputs) {
            if (j->cancelled()) break;
            r.embeddings.push_back(engine_.embed(in));
            r.prompt_tokens += in.size();
        }
        r.finish_reason = "stop";
    } catch (const std::exception& e) {
        r.error = api_error(500, "server_error", "internal_error", e.what());
    }
    j->finish(std::move(r));
}

// Writes a session's state as a state file that a later request (or another server) names with
// "state". The session's tokens are not kept: the file holds the state alone, as state files do.
void scheduler::save_session(const std::shared_ptr<job>& j) {
    job_result r;
    try {
        const auto& p = j->params;
        if (opt_.state_dir.empty())
            throw api_error(400, "invalid_request_error", "no_state_dir", "this server has no --state-dir to save into");
        const cached_state* s = impl_->sessions.find(p.session);
        if (!s) throw api_error(404, "invalid_request_error", "session_not_found", "no session '" + p.session + "'");
        const auto path = opt_.state_dir / (p.save_as + ".rwkvstate");
        auto tmp = path;
        tmp += ".tmp";
        rwkv::save_state(s->st, tmp);
        std::filesystem::rename(tmp, path);
        impl_->state_files.erase(p.save_as);  // a state of that name loaded before is stale now
        r.prompt_tokens = s->tokens.size();
        r.finish_reason = "stop";
    } catch (const api_error& e) {
        r.error = e;
    } catch (const std::exception& e) {
        r.error = api_error(500, "server_error", "state_write_failed", e.what());
    }
    j->finish(std::move(r));
}

namespace {

// log p(token) under softmax(logits), in double so the sum does not lose the small terms.
float log_probability(std::span<const float> logits, std::int32_t token) {
    double mx = -INFINITY;
    for (const float v : logits) mx = std::max(mx, static_cast<double>(v));
    double sum = 0;
    for (const float v : logits) sum += std::exp(static_cast<double>(v) - mx);
    return static_cast<float>(static_cast<double>(logits[static_cast<std::size_t>(token)]) - mx - std::log(sum));
}

// The length of the longest suffix of `text` that is a proper prefix of some stop string: that much
// is held back, since the next token may complete the stop.
std::size_t held_back(std::string_view text, const std::vector<std::string>& stops) {
    std::size_t keep = 0;
    for (const auto& s : stops)
        for (std::size_t n = std::min(s.size() - 1, text.size()); n > keep; --n)
            if (text.substr(text.size() - n) == std::string_view(s).substr(0, n)) {
                keep = n;
                break;
            }
    return keep;
}

}  // namespace

// One token for a job whose logits are ready: sample, then stop or emit.
void scheduler::sample_and_emit(active_job& a) {
    const auto& p = a.j->params;
    if (a.produced >= p.max_tokens) {
        a.done = true;
        a.finish_reason = "length";
        return;
    }
    const std::int32_t next = a.sampler.sample(a.logits);
    a.sampler.accept(next);
    ++a.produced;
    if (p.logprobs) a.pending_logprobs.push_back(log_probability(a.logits, next));
    const auto eot = engine_.tokenizer().end_of_text_id();
    if (eot && next == *eot) {
        a.done = true;
        a.finish_reason = "stop";
        a.decoder.flush(a.text);
    } else {
        a.decoder.push(engine_.tokenizer().token_bytes(next), a.text);
    }
    std::size_t visible = a.text.size();
    if (!p.stop.empty()) {
        // Search only where a stop could newly appear: from the longest stop's reach before the
        // emitted part.
        std::size_t longest = 0;
        for (const auto& s : p.stop) longest = std::max(longest, s.size());
        const std::size_t from = a.emitted >= longest ? a.emitted - longest : 0;
        std::size_t cut = std::string::npos;
        for (const auto& s : p.stop)
            if (const auto at = a.text.find(s, from); at != std::string::npos) cut = std::min(cut, at);
        if (cut != std::string::npos) {
            visible = std::max(cut, a.emitted);
            a.done = true;
            a.finish_reason = "stop";
        } else if (!a.done) {
            visible = a.text.size() - held_back(a.text, p.stop);
        }
    }
    if (!a.done && a.produced >= p.max_tokens) {
        a.done = true;
        a.finish_reason = "length";
    }
    if (a.done && a.finish_reason == "length") {
        a.decoder.flush(a.text);
        visible = a.text.size();
    }
    if (visible > a.emitted || !a.pending_logprobs.empty()) {
        a.j->publish(std::string_view(a.text).substr(a.emitted, visible > a.emitted ? visible - a.emitted : 0),
                     a.pending_logprobs);
        a.emitted = std::max(a.emitted, visible);
        a.pending_logprobs.clear();
    }
    if (!a.done) a.to_feed = next;
}

// A finished job: its state goes to its session, its result to the waiting handler.
void scheduler::retire(active_job& a) {
    const auto& p = a.j->params;
    if (!p.session.empty() && a.logits_ready && !a.to_feed && a.error.empty())
        impl_->sessions.put(p.session, cached_state{p.state_name, std::move(a.fed), std::move(a.st), std::move(a.logits)});
    job_result r;
    if (!a.error.empty()) r.error = api_error(500, "server_error", "internal_error", a.error);
    r.finish_reason = a.finish_reason;
    r.prompt_tokens = p.prompt.size();
    r.completion_tokens = static_cast<std::size_t>(a.produced);
    r.cached_tokens = a.cached;
    a.j->finish(std::move(r));
}

void scheduler::step() {
    auto& s = *impl_;
    const auto now = clock_type::now();
    // 1. Sample for every job whose logits are ready; drop cancelled and expired ones.
    for (auto& a : s.active) {
        if (a.j->cancelled()) {
            a.done = true;
            a.finish_reason = "cancelled";
        } else if (now >= a.j->params.deadline) {
            a.done = true;
            a.finish_reason = "length";  // out of time: as if max_tokens were reached
        } else if (a.logits_ready && !a.to_feed && a.prompt_pos == a.j->params.prompt.size()) {
            try {
                sample_and_emit(a);
                ++s.sampled;
            } catch (const std::exception& e) {  // e.g. logits that are all NaN: this job fails, no other
                a.done = true;
                a.error = e.what();
            }
        }
    }
    std::uint64_t cancelled = 0;
    for (auto& a : s.active)
        if (a.done) {
            cancelled += a.finish_reason == "cancelled";
            retire(a);
        }
    std::erase_if(s.active, [](const active_job& a) { return a.done; });

    // 2. One batch: every decoding job's token (they are cheap and latency-bound), then whole prompt
    //    chunks, oldest job first, while max_step_tokens lasts. A chunk is never cut short to fit:
    //    its boundaries stay those of the job run alone (every prefill_chunk tokens from where it
    //    started), so, forward_batch being bitwise forward per agent, batching changes no bit of any
    //    job's output. The engine's workspace holds max_step_tokens + max_batch tokens.
    s.tokens.clear();
    s.lengths.clear();
    s.states.clear();
    s.members.clear();
    for (auto& a : s.active)
        if (a.to_feed) {
            s.tokens.push_back(*a.to_feed);
            s.lengths.push_back(1);
            s.states.push_back(&a.st);
            s.members.push_back(&a);
        }
    std::size_t budget = opt_.max_step_tokens;
    std::size_t prefill = 0;
    for (auto& a : s.active) {
        const auto& prompt = a.j->params.prompt;
        if (a.prompt_pos >= prompt.size()) continue;
        const std::size_t n = std::min(prompt.size() - a.prompt_pos, opt_.prefill_chunk);
        if (n > budget) continue;  // its turn comes next step
        s.tokens.insert(s.tokens.end(), prompt.begin() + static_cast<std::ptrdiff_t>(a.prompt_pos),
                        prompt.begin() + static_cast<std::ptrdiff_t>(a.prompt_pos + n));
        s.lengths.push_back(n);
        s.states.push_back(&a.st);
        s.members.push_back(&a);
        budget -= n;
        prefill += n;
    }

    if (!s.members.empty()) {
        const std::size_t V = engine_.info().n_vocab;
        s.logits.resize(s.members.size() * V);
        try {
            engine_.step(s.tokens, s.lengths, s.states, s.logits);
        } catch (const std::exception& e) {
            // A model failure fails the jobs in this step, never the server.
            for (auto* a : s.members) {
                job_result r;
                r.error = api_error(500, "server_error", "model_error", e.what());
                a->j->finish(std::move(r));
                a->done = true;
            }
            std::erase_if(s.active, [](const active_job& a) { return a.done; });
            s.members.clear();
        }
        std::size_t offset = 0;
        for (std::size_t g = 0; g < s.members.size(); ++g) {
            active_job& a = *s.members[g];
            const std::size_t n = s.lengths[g];
            a.fed.insert(a.fed.end(), s.tokens.begin() + static_cast<std::ptrdiff_t>(offset),
                         s.tokens.begin() + static_cast<std::ptrdiff_t>(offset + n));
            offset += n;
            std::copy_n(s.logits.begin() + static_cast<std::ptrdiff_t>(g * V), V, a.logits.begin());
            if (a.to_feed) {
                a.to_feed.reset();
                a.logits_ready = true;
            } else {
                a.prompt_pos += n;
                a.logits_ready = a.prompt_pos == a.j->params.prompt.size();
                // Kept: the whole prompt (later prompts that extend it start there), and every chunk
                // boundary on the way (prompts that share only a beginning, e.g. a long system
                // prompt, start at the last boundary they share; a boundary is also where a fresh
                // run's chunks end, so reuse from there is bit-identical to it).
                if (a.logits_ready || a.prompt_pos % opt_.prefill_chunk == 0)
                    s.prefixes.put(cached_state{a.j->params.state_name, a.fed, a.st, a.logits});
            }
        }
    }

    std::lock_guard lk(mu_);
    auto& c = s.counters;
    c.cancelled += cancelled;
    c.generated_tokens += s.sampled;
    c.prefill_tokens += prefill;
    c.steps += s.members.empty() ? 0 : 1;
    c.step_tokens += s.tokens.size();
    c.active = s.active.size();
    c.sessions = s.sessions.size();
    c.session_bytes = s.sessions.bytes();
    c.prefix_entries = s.prefixes.size();
    c.prefix_bytes = s.prefixes.bytes();
    s.window_tokens += s.sampled;
    s.sampled = 0;
    const double window = std::chrono::duration<double>(clock_type::now() - s.window_start).count();
    if (window >= 2.0) {
        c.tokens_per_second = static_cast<double>(s.window_tokens) / window;
        s.window_start = clock_type::now();
        s.window_tokens = 0;
    }
}

}  // namespace rwkv_server
