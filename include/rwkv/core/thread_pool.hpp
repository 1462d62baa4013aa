// rwkv/core/thread_pool.hpp — a fixed pool of worker threads for data-parallel kernels.
//
// The host decides the thread count (a game must be able to say "one core"); the pool is created
// once, owned by a backend (and so by a model), and never allocates after construction.
// `run(n, fn)` calls fn(0) … fn(n − 1), each index exactly once, and returns when all are done.
//
// Any number of threads may call run at once on one pool (several threads sharing one model, each
// with its own state and workspace), and a task may call run itself (nested). One caller at a time
// owns the workers: a run first tries to take the pool (an atomic flag, never waited for). The
// caller that gets it publishes its tasks to the spinning workers and works too; a caller that finds
// the pool taken — by another thread, or by the run it is nested in — runs all n tasks itself, inline,
// in index order. So no caller ever blocks behind another's run, and nothing is allocated per run.
//
// Why running the tasks elsewhere changes no result: the kernels give each task index a fixed slice
// of the output and compute every output element by one fixed sequence of operations that depends
// only on the index and the task count (not on which thread runs it, nor in what order the tasks
// run; no task reads another's output). The task count comes from the pool's size and the problem
// shape, never from who is free, so a run done inline by its caller, or spread over the workers, or
// done by a pool of one thread, gives the same bits (the determinism contract; tests/threads/).
//
// Tasks must not throw when the workers are used (a throw there calls std::terminate).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/core/platform.hpp"

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
        platform::wake_all(generation_);
        for (auto& w : workers_) w.join();
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    std::size_t size() const noexcept { return workers_.size() + 1; }

    // Runs fn(i) for i in [0, n); safe from any thread and from inside a task (see the top).
    // With the workers, the caller works too and returns once all n are done; a worker that wakes
    // late (descheduled on a busy machine) finds nothing left and is not waited for.
    template <class Fn>
    void run(std::size_t n, Fn&& fn) {
        if (n == 0) return;
        if (n >= (std::size_t{1} << 31)) throw invalid_argument("thread_pool: too many tasks");
        if (workers_.empty() || n == 1 || !try_acquire()) {
            for (std::size_t i = 0; i < n; ++i) fn(i);
            return;
        }
        // Owned: only this thread writes the run's fields until busy_ is released below. A worker
        // reads task_ / invoke_ only after claiming a task of this run, and this run does not end
        // before that task is done, so the fields stay put while anyone may read them.
        task_ = const_cast<void*>(static_cast<const void*>(&fn));
        invoke_ = [](void* f, std::size_t i) noexcept { (*static_cast<std::remove_reference_t<Fn>*>(f))(i); };
        pending_.store(n, std::memory_order_relaxed);
        // The claim word of the run: its number (high half) and the tasks left to claim (low half).
        // The number keeps a worker that read the previous run's word from claiming from this one.
        const std::uint64_t run_number = ++run_number_;
        claims_.store((run_number << 32) | n, std::memory_order_release);
        generation_.fetch_add(1, std::memory_order_release);
        platform::wake_all(generation_);
        work();
        for (int spin = 0;; ++spin) {
            const std::size_t left = pending_.load(std::memory_order_acquire);
            if (left == 0) break;
            if (spin > 4096) platform::wait_while_equal(pending_, left);
        }
        busy_.store(false, std::memory_order_release);
    }

private:
    std::vector<std::thread> workers_;
    void* task_ = nullptr;                             // the owner's fn (written only by the owner)
    void (*invoke_)(void*, std::size_t) noexcept = nullptr;
    std::uint32_t run_number_ = 0;                     // the owner's count of runs (wraps)
    std::atomic<bool> busy_{false};                    // a caller owns the workers
    std::atomic<std::uint64_t> claims_{0};             // (run number << 32) | tasks not yet claimed
    std::atomic<std::size_t> pending_{0};              // tasks of the current run not yet finished
    std::atomic<std::uint64_t> generation_{0};         // bumped per run (and at shutdown) to wake workers
    std::atomic<bool> stop_{false};

    bool try_acquire() noexcept {
        // Read first: a busy pool is then seen without taking its cache line from the owner.
        return !busy_.load(std::memory_order_relaxed) && !busy_.exchange(true, std::memory_order_acquire);
    }

    // Claims and runs tasks of the current run (from the last index down) until none is left. A
    // successful claim synchronises with the owner's publication of the run (release → acquire), so
    // task_ and invoke_ are those of the run the task belongs to.
    void work() noexcept {
        std::uint64_t v = claims_.load(std::memory_order_acquire);
        for (;;) {
            const std::uint64_t left = v & 0xffffffffu;
            if (left == 0) return;
            if (!claims_.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_acquire)) continue;
            invoke_(task_, static_cast<std::size_t>(left - 1));
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) platform::wake_one(pending_);
            v = claims_.load(std::memory_order_acquire);
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
                platform::wait_while_equal(generation_, seen);
                g = generation_.load(std::memory_order_acquire);
            }
            seen = g;
            if (stop_.load(std::memory_order_acquire)) return;
            // The run this wake-up belongs to (or a later one: then its tasks are claimed instead).
            work();
        }
    }
};

}  // namespace rwkv
