// rwkv/core/thread_pool.hpp — a fixed pool of worker threads for data-parallel kernels.
//
// The host decides the thread count (a game must be able to say "one core"); the pool is created
// once, owned by a backend (and so by a model), and never allocates after construction.
// `run(n, fn)` calls fn(0) … fn(n − 1), each index exactly once, spread over the workers and the
// calling thread, and returns when all are done. Kernels give each index a fixed slice of the
// output and a fixed reduction order inside it, so results are bitwise identical for any thread
// count (the determinism contract).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "rwkv/core/error.hpp"

namespace rwkv {

class thread_pool {
public:
    // threads = total threads that run tasks, the caller included (1 = no workers).
    explicit thread_pool(std::size_t threads = 1) {
        if (threads == 0) throw invalid_argument("thread_pool: the thread count must be at least 1");
        if (threads > 1024) throw invalid_argument("thread_pool: " + std::to_string(threads) + " threads is too many");
        workers_.reserve(threads - 1);
        for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    }
    ~thread_pool() {
        stop_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto& w : workers_) w.join();
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    std::size_t size() const noexcept { return workers_.size() + 1; }

    // Runs fn(i) for i in [0, n). Not reentrant: one run at a time per pool (a model's forward).
    // The caller works too and returns once all n are done; a worker that wakes late (descheduled
    // on a busy machine) finds nothing left and is not waited for.
    template <class Fn>
    void run(std::size_t n, Fn&& fn) {
        if (n == 0) return;
        if (workers_.empty() || n == 1) {
            for (std::size_t i = 0; i < n; ++i) fn(i);
            return;
        }
        if (n >= (std::size_t{1} << 31)) throw invalid_argument("thread_pool: too many tasks");
        task_ = &fn;
        invoke_ = [](void* f, std::size_t i) { (*static_cast<std::remove_reference_t<Fn>*>(f))(i); };
        n_tasks_.store(n, std::memory_order_relaxed);
        completed_.store(0, std::memory_order_relaxed);
        // The claim counter carries the run's number in its high half: a worker can only claim a
        // task of the run it read task_/invoke_ for (claims of an older run fail their CAS).
        const std::uint64_t run_id = ++run_id_ & 0xffffffffu;
        next_.store(run_id << 32, std::memory_order_release);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        work(run_id);
        for (int spin = 0; completed_.load(std::memory_order_acquire) != n; ++spin) {
            if (spin > 4096) {
                const std::size_t c = completed_.load(std::memory_order_acquire);
                if (c != n) completed_.wait(c, std::memory_order_acquire);
            }
        }
    }

private:
    std::vector<std::thread> workers_;
    void* task_ = nullptr;
    void (*invoke_)(void*, std::size_t) = nullptr;
    std::atomic<std::size_t> n_tasks_{0};
    std::uint64_t run_id_ = 0;
    std::atomic<std::uint64_t> next_{0};       // (run id << 32) | next task index
    std::atomic<std::size_t> completed_{0};    // tasks finished in the current run
    std::atomic<std::uint64_t> generation_{0};  // bumped per run (and at shutdown) to wake workers
    std::atomic<bool> stop_{false};

    // Claims and runs tasks of run `run_id` until none is left.
    void work(std::uint64_t run_id) {
        std::uint64_t v = next_.load(std::memory_order_acquire);
        for (;;) {
            const std::size_t n = n_tasks_.load(std::memory_order_relaxed);
            if ((v >> 32) != run_id || (v & 0xffffffffu) >= n) return;
            if (!next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
            invoke_(task_, static_cast<std::size_t>(v & 0xffffffffu));
            if (completed_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) completed_.notify_one();
            v = next_.load(std::memory_order_acquire);
        }
    }

    void worker_loop() {
        std::uint64_t seen = 0;
        for (;;) {
            // Spin briefly (decode calls the pool hundreds of times per token), then sleep.
            std::uint64_t g = generation_.load(std::memory_order_acquire);
            for (int spin = 0; g == seen && spin < 20000; ++spin) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
                g = generation_.load(std::memory_order_acquire);
            }
            while (g == seen) {
                generation_.wait(seen, std::memory_order_acquire);
                g = generation_.load(std::memory_order_acquire);
            }
            seen = g;
            if (stop_.load(std::memory_order_acquire)) return;
            // The run this wake-up belongs to (or a later one: then its tasks are claimed instead).
            work(next_.load(std::memory_order_acquire) >> 32);
        }
    }
};

}  // namespace rwkv
