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
    template <class Fn>
    void run(std::size_t n, Fn&& fn) {
        if (n == 0) return;
        if (workers_.empty() || n == 1) {
            for (std::size_t i = 0; i < n; ++i) fn(i);
            return;
        }
        task_ = &fn;
        invoke_ = [](void* f, std::size_t i) { (*static_cast<std::remove_reference_t<Fn>*>(f))(i); };
        n_tasks_ = n;
        next_.store(0, std::memory_order_relaxed);
        pending_.store(workers_.size(), std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        work();
        // Wait for every worker to leave this generation (so `fn` may go out of scope).
        for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
            if (spin > 4096) {
                std::size_t p = pending_.load(std::memory_order_acquire);
                if (p != 0) pending_.wait(p, std::memory_order_acquire);
            }
        }
    }

private:
    std::vector<std::thread> workers_;
    void* task_ = nullptr;
    void (*invoke_)(void*, std::size_t) = nullptr;
    std::size_t n_tasks_ = 0;
    std::atomic<std::size_t> next_{0};
    std::atomic<std::size_t> pending_{0};
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<bool> stop_{false};

    void work() {
        for (;;) {
            const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
            if (i >= n_tasks_) break;
            invoke_(task_, i);
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
            if (stop_.load(std::memory_order_relaxed)) return;
            work();
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
        }
    }
};

}  // namespace rwkv
