// rwkv/generate/sampler.hpp — turns a logits vector into the next token: penalties, bias, temperature,
// top-k, top-p, min-p and a seeded draw, with no allocation per token.
//
// Pipeline of sample(logits), in this order:
//   1. Effective logits, on a private copy:  x[t] = (repeat(logits[t]) − penalty[t]) + bias[t], where
//      repeat(l) = l / repeat_penalty if l > 0 and l · repeat_penalty otherwise, for every token among
//      the last repeat_last_n accepted (llama.cpp's --repeat-penalty / --repeat-last-n; once per
//      token however often it occurs there), and l for the others;
//      penalty[t] = presence_penalty + frequency_penalty · count[t] for every token accepted at least
//      once since the last reset (ChatRWKV's alpha_presence / alpha_frequency; the presence term stays
//      even after decay has taken count[t] to zero), and 0 for the others. NaN (from the input or from
//      inf − inf) becomes −inf. If every x[t] is −inf, rwkv::invalid_argument.
//   2. temperature == 0: greedy, the arg max of x with the lowest id on ties. No random draw.
//   3. Candidate order, used by every later stage: descending x, ties by lower id — that is,
//      descending probability (which is monotone in x) with ties to the lower id. It is a strict total
//      order, so the result never depends on how the standard library sorts or selects.
//   4. Weights w[t] = exp((x[t] − max x) · (1 / temperature)) in double, with the built-in exp below,
//      so w = 1 for the top token (for every token when max x is +inf: then w = 1 for the +inf tokens
//      and 0 for the rest). Tokens with w == 0 (banned, or underflowed) are never candidates.
//   5. top_k > 0: keep the first top_k candidates (weights are computed for these only).
//   6. top_p < 1: keep the shortest prefix whose weight sum is ≥ top_p · (sum over what step 5 kept),
//      i.e. top-p of the distribution renormalized after top-k. At least one token survives.
//   7. min_p > 0: keep the candidates with w ≥ min_p · w_max (w_max = 1; a probability ratio, so
//      renormalization does not change it). The top token always survives.
//   8. Draw: u = generator().uniform_float() (exactly one draw per call when temperature > 0, however
//      many tokens survive), target = u · (sum of the kept weights); the token returned is the first,
//      in candidate order, at which the running sum of the kept weights exceeds target (the last kept
//      token if rounding leaves it short). Scaling the target instead of the weights is the
//      renormalization.
//   Steps 6 and 8 find their prefix with a weighted quickselect (detail::select_by_mass) instead of a
//   sort: the same running sums, but added up partition by partition, so their last-bit rounding is
//   not that of a left-to-right walk — it is fixed by this file instead.
// sample() does not call accept(): the caller accepts the token it actually emits (it may stop on it,
// or a grammar may veto it first).
//
// accept(t): every count is multiplied by penalty_decay, then count[t] += 1 (ChatRWKV's order); t
// enters the repeat window, whose oldest token leaves it once it holds repeat_last_n.
//
// Determinism: for the same config, vocabulary size, seed and sequence of logits/accept calls, the
// tokens are bit-identical across compilers, standard libraries and platforms with IEEE-754 binary32/
// binary64 arithmetic and no FMA contraction: GCC and Clang in ISO mode (-std=c++20; gnu++20 implies
// -ffp-contract=fast, which may fuse across statements), MSVC 2022 17.0+ with /fp:precise (contraction
// off by default there); never x87. To get there: the exp is our own (+, −, ×, integer conversion and
// exponent bits only; libm's exp differs between platforms); every sum runs in an order this file
// fixes (four interleaved partial sums by position in the candidate buffer, or the partition sums of
// select_by_mass), and the buffer's arrangement is itself fixed (id order, a sort under a total order,
// or our own partition code — never the unspecified output order of std::nth_element or the heap
// algorithms); the generator is PCG32 (rng.hpp). Products that feed a sum are separate statements (no
// contraction within an expression), and Clang is told not to fuse inside the exp.
//
// Cost (V = vocab_size): O(V) for the copy, the max and the candidate list. Without top_k: V weights
// and their sum, then expected O(V) for top-p and for the draw (quickselect on mass), never a full
// sort. With top_k: a bounded-heap selection of the k best (nth_element when k > V/16), a sort of
// those k and k weights — O(V + k log k log V) typical, O(V log k) worst — and then O(k) for the
// rest. Penalties cost O(distinct tokens accepted), the repeat penalty O(repeat_last_n). All buffers are allocated in the constructor;
// sample(), accept(), reset() and the bias setters never allocate (only the exceptions they throw on
// bad input do).
//
// A sampler is a value: copy it to fork a generation. It is not safe to use one from two threads.
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/generate/rng.hpp"

namespace rwkv::generate {

struct sampler_config {
    float temperature = 1.0f;        // 0 → greedy (arg max, lowest id on ties)
    float top_p = 1.0f;              // nucleus; 1 = off
    std::int32_t top_k = 0;          // 0 = off
    float min_p = 0.0f;              // keep tokens with p ≥ min_p · p_max; 0 = off
    float presence_penalty = 0.0f;   // subtracted once from every token seen (ChatRWKV alpha_presence)
    float frequency_penalty = 0.0f;  // subtracted per (decayed) occurrence (ChatRWKV alpha_frequency)
    float penalty_decay = 1.0f;      // counts multiplied by this at each accept (ChatRWKV: 0.996); 1 = none
    float repeat_penalty = 1.0f;     // llama.cpp's: divides positive, multiplies negative logits of recent tokens; 1 = off
    std::int32_t repeat_last_n = 64; // the window repeat_penalty looks back over (accepted tokens); 0 = off
    std::uint64_t seed = 0;
};

namespace detail {

// exp(x) for x ≤ 0 (and −inf), built from operations that IEEE-754 rounds the same way everywhere:
// x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2, fdlibm's constants), exp(r) by its Taylor
// series to degree 13 (truncation error < 1e-17) evaluated in Estrin's scheme (short dependency
// chains), then · 2^k built from exponent bits (two steps and one rounding when the result is
// subnormal). Relative error a few ulp; exp(0) is exactly 1; results below 2^-1074 are 0. Every
// product is its own statement, so no compiler fuses a multiply-add.
inline double exp_nonpositive(double x) noexcept {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    if (!(x > -745.2)) return 0.0;
    constexpr double inv_ln2 = 1.44269504088896338700e+00;
    constexpr double ln2_hi = 6.93147180369123816490e-01;  // low 21 bits zero: k·ln2_hi is exact
    constexpr double ln2_lo = 1.90821492927058770002e-10;
    const double scaled = x * inv_ln2;
    const double y = scaled + 0.5;           // in (-1075.5, 0.5]
    auto ki = static_cast<std::int32_t>(y);  // truncation toward zero …
    if (static_cast<double>(ki) > y) --ki;   // … made floor(y)
    const auto k = static_cast<double>(ki);
    const double k_hi = k * ln2_hi;
    const double hi = x - k_hi;
    const double k_lo = k * ln2_lo;
    const double r = hi - k_lo;

    // a + b·m, as two rounded operations.
    auto lin = [](double a, double b, double m) {
        const double bm = b * m;
        return a + bm;
    };
    // 1/n!, each quotient rounded correctly by the compiler.
    constexpr double c2 = 1.0 / 2.0, c3 = 1.0 / 6.0, c4 = 1.0 / 24.0, c5 = 1.0 / 120.0, c6 = 1.0 / 720.0,
                     c7 = 1.0 / 5040.0, c8 = 1.0 / 40320.0, c9 = 1.0 / 362880.0, c10 = 1.0 / 3628800.0,
                     c11 = 1.0 / 39916800.0, c12 = 1.0 / 479001600.0, c13 = 1.0 / 6227020800.0;
    const double r2 = r * r;
    const double r4 = r2 * r2;
    const double r8 = r4 * r4;
    const double p01 = 1.0 + r;
    const double p23 = lin(c2, c3, r);
    const double p45 = lin(c4, c5, r);
    const double p67 = lin(c6, c7, r);
    const double p89 = lin(c8, c9, r);
    const double p1011 = lin(c10, c11, r);
    const double p1213 = lin(c12, c13, r);
    const double q0 = lin(p01, p23, r2);
    const double q1 = lin(p45, p67, r2);
    const double q2 = lin(p89, p1011, r2);
    const double s0 = lin(q0, q1, r4);
    const double s1 = lin(q2, p1213, r4);
    const double p = lin(s0, s1, r8);

    if (ki >= -1022) return p * std::bit_cast<double>(static_cast<std::uint64_t>(ki + 1023) << 52);
    const double scaled_up = p * std::bit_cast<double>(static_cast<std::uint64_t>(ki + 1023 + 64) << 52);
    return scaled_up * 0x1p-64;
}

// Shortest round-trip spelling of a float, independent of the locale ("nan", "inf" included).
inline std::string format_float(float v) {
    char buf[48];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

// One candidate token: its effective logit, its id and (once computed) its weight. The candidates
// live in one contiguous buffer, so selection and partitioning read memory sequentially.
struct candidate {
    float x;
    std::int32_t id;
    double w;
};

// The candidate order: descending effective logit, ties by lower id. The logits are never NaN here,
// so this is a strict total order.
struct before {
    bool operator()(const candidate& a, const candidate& b) const noexcept {
        return (a.x > b.x) | ((a.x == b.x) & (a.id < b.id));  // no short circuit: fewer branches
    }
};

// Puts the first m candidates of [first, last) in candidate order at [first, first + m), sorted; the
// rest stay after them in some order (a permutation: nothing is lost). For m ≤ (last − first)/16 a
// bounded heap of the m best so far (its top is the worst kept), which costs one compare for most
// elements; otherwise nth_element. The sorted prefix is unique (total order), whatever the library's
// heap or selection does; neither allocates.
inline void select_sorted(candidate* first, candidate* last, std::size_t m) {
    const before cmp;
    const auto r = static_cast<std::size_t>(last - first);
    if (m >= r) {
        std::sort(first, last, cmp);
        return;
    }
    if (m == 0) return;
    candidate* const mid = first + m;
    if (m * 16 <= r) {
        std::make_heap(first, mid, cmp);
        for (candidate* it = mid; it != last; ++it) {
            if (cmp(*it, *first)) {
                std::pop_heap(first, mid, cmp);
                std::swap(*(mid - 1), *it);
                std::push_heap(first, mid, cmp);
            }
        }
        std::sort_heap(first, mid, cmp);
    } else {
        std::nth_element(first, mid, last, cmp);
        std::sort(first, mid, cmp);
    }
}

// Sum of w over c[0, n): four partial sums, lane j over the positions ≡ j (mod 4) in increasing
// order, combined (l0 + l1) + (l2 + l3). Four independent chains instead of one.
inline double lane_sum(const candidate* c, std::size_t n) noexcept {
    double l0 = 0.0, l1 = 0.0, l2 = 0.0, l3 = 0.0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        l0 += c[i].w;
        l1 += c[i + 1].w;
        l2 += c[i + 2].w;
        l3 += c[i + 3].w;
    }
    if (i < n) l0 += c[i].w;
    if (i + 1 < n) l1 += c[i + 1].w;
    if (i + 2 < n) l2 += c[i + 2].w;
    return (l0 + l1) + (l2 + l3);
}

// Weighted selection: the first position p, in candidate order, at which the running sum of w over
// the candidates up to and including p reaches `target` (Inclusive: sum ≥ target; otherwise sum >
// target). Rearranges c[0, n) so that c[p] is that candidate and c[0, p) are the ones preceding it;
// returns p (the last candidate considered if rounding keeps the sum from reaching the target).
// n ≥ 1.
//
// A quickselect on mass, every step of it fixed here so that the rearrangement and the rounding of
// the partial sums are the same on every platform: median-of-three pivot (positions lo, mid, hi − 1),
// branch-free Lomuto partition, the lane_sum of the part before the pivot (as the partition left
// it), then descent into the side holding the target. Ranges of ≤ 16 candidates, and any range left after 2·bit_width(n) + 8
// partitions (bad pivots), are sorted (a total order has one sorted arrangement) and walked.
// Expected O(n).
template <bool Inclusive>
std::size_t select_by_mass(candidate* c, std::size_t n, double target) {
    const before cmp;
    auto reaches = [target](double sum) { return Inclusive ? sum >= target : sum > target; };
    std::size_t lo = 0;
    std::size_t hi = n;
    double acc = 0.0;  // sum over c[0, lo), all of which precede c[lo, n)
    int budget = 2 * static_cast<int>(std::bit_width(n)) + 8;
    while (hi - lo > 16 && budget-- > 0) {
        const std::size_t ia = lo;
        const std::size_t ib = lo + (hi - lo) / 2;
        const std::size_t ic = hi - 1;
        std::size_t med;
        if (cmp(c[ia], c[ib]))
            med = cmp(c[ib], c[ic]) ? ib : (cmp(c[ia], c[ic]) ? ic : ia);
        else
            med = cmp(c[ia], c[ic]) ? ia : (cmp(c[ib], c[ic]) ? ic : ib);
        std::swap(c[med], c[hi - 1]);
        const candidate pivot = c[hi - 1];
        std::size_t store = lo;
        for (std::size_t i = lo; i + 1 < hi; ++i) {
            const candidate t = c[i];
            const bool goes_left = cmp(t, pivot);
            c[i] = c[store];
            c[store] = t;
            store += goes_left ? 1u : 0u;
        }
        c[hi - 1] = c[store];
        c[store] = pivot;
        const double upto = acc + lane_sum(c + lo, store - lo);
        if (reaches(upto)) {
            if (store == lo) return lo;
            hi = store;
            continue;
        }
        const double with_pivot = upto + pivot.w;
        if (reaches(with_pivot)) return store;
        acc = with_pivot;
        lo = store + 1;
    }
    std::sort(c + lo, c + hi, cmp);
    for (std::size_t i = lo; i < hi; ++i) {
        acc += c[i].w;
        if (reaches(acc)) return i;
    }
    return hi - 1;
}

}  // namespace detail

class sampler {
public:
    // Validates the config (rwkv::invalid_argument naming the field and the value) and allocates every
    // buffer sample() and accept() will need.
    sampler(const sampler_config& config, std::int32_t vocab_size) : cfg_(config), vocab_(vocab_size) {
        validate(cfg_, vocab_size);
        const auto v = static_cast<std::size_t>(vocab_size);
        work_.assign(v, 0.0f);
        cand_.assign(v, detail::candidate{0.0f, 0, 0.0});
        count_.assign(v, 0.0f);
        seen_.assign(v, 0);
        seen_list_.assign(v, 0);
        bias_.assign(v, 0.0f);
        recent_.assign(static_cast<std::size_t>(cfg_.repeat_last_n), 0);
        last_accept_.assign(v, 0);
        rng_.reseed(cfg_.seed);
    }

    // The next token for these logits (size must be vocab_size). See the pipeline at the top of the
    // file. Throws rwkv::invalid_argument on a wrong size or when every effective logit is −inf.
    std::int32_t sample(std::span<const float> logits) {
        constexpr float neg_inf = -std::numeric_limits<float>::infinity();
        effective_logits(logits, std::span<float>(work_));
        const std::size_t v = work_.size();
        const float* x = work_.data();

        std::size_t best = 0;
        float best_x = neg_inf;
        for (std::size_t i = 0; i < v; ++i) {
            if (x[i] > best_x) {
                best_x = x[i];
                best = i;
            }
        }
        if (best_x == neg_inf)
            throw rwkv::invalid_argument(
                "sampler::sample: every logit is -inf or NaN after penalties and logit bias; "
                "no token can be sampled");
        if (cfg_.temperature == 0.0f) return static_cast<std::int32_t>(best);

        detail::candidate* c = cand_.data();
        const bool inf_top = best_x == std::numeric_limits<float>::infinity();
        const auto top = static_cast<double>(best_x);
        const double inv_temp = 1.0 / static_cast<double>(cfg_.temperature);
        auto weight_of = [&](float xi) {
            if (inf_top) return xi == best_x ? 1.0 : 0.0;
            const double d = static_cast<double>(xi) - top;
            const double scaled = d * inv_temp;
            return detail::exp_nonpositive(scaled);
        };

        std::size_t n = 0;
        bool whole = false;  // the kept set is every candidate, and `total` its lane_sum
        double total = 0.0;
        const auto k = static_cast<std::size_t>(cfg_.top_k);
        const bool top_k_on = k > 0 && k < v;
        if (top_k_on) {
            for (std::size_t i = 0; i < v; ++i) {
                if (x[i] != neg_inf) c[n++] = {x[i], static_cast<std::int32_t>(i), 0.0};
            }
        }
        if (top_k_on && k < n) {
            // top-k first (sorted, hence arranged the same everywhere), then weights for those k
            // only; zero weights sort last and are dropped.
            detail::select_sorted(c, c + n, k);
            n = k;
            for (std::size_t i = 0; i < n; ++i) c[i].w = weight_of(c[i].x);
            while (c[n - 1].w == 0.0) --n;  // stops at the top token (w = 1)
        } else {
            // Every weight; the candidates (w > 0) in id order; their lane_sum. (−inf weighs 0.)
            n = 0;
            for (std::size_t i = 0; i < v; ++i) {
                const double wt = weight_of(x[i]);
                if (wt > 0.0) c[n++] = {x[i], static_cast<std::int32_t>(i), wt};
            }
            total = detail::lane_sum(c, n);
            whole = true;
        }

        // top-p, relative to the mass top-k kept
        if (cfg_.top_p < 1.0f) {
            const double mass = whole ? total : detail::lane_sum(c, n);
            const double threshold = static_cast<double>(cfg_.top_p) * mass;
            const std::size_t last = detail::select_by_mass<true>(c, n, threshold);
            if (last + 1 < n) whole = false;
            n = last + 1;
        }

        // min-p: a stable compaction (w is monotone in x, so the survivors are a prefix in order)
        if (cfg_.min_p > 0.0f) {
            const double floor_w = static_cast<double>(cfg_.min_p);  // · w_max = 1
            std::size_t kept = 0;
            for (std::size_t j = 0; j < n; ++j) {
                if (c[j].w >= floor_w) c[kept++] = c[j];
            }
            if (kept < n) whole = false;
            n = kept;
        }

        const double mass = whole ? total : detail::lane_sum(c, n);
        const auto u = static_cast<double>(rng_.uniform_float());
        const double target = u * mass;
        return c[detail::select_by_mass<false>(c, n, target)].id;
    }

    // Records an emitted token for the penalties: all counts × penalty_decay, then count[token] += 1.
    void accept(std::int32_t token) {
        check_token(token, "accept");
        const auto t = static_cast<std::size_t>(token);
        if (cfg_.penalty_decay != 1.0f) {
            for (std::size_t j = 0; j < n_seen_; ++j) {
                const auto s = static_cast<std::size_t>(seen_list_[j]);
                count_[s] = count_[s] * cfg_.penalty_decay;
            }
        }
        if (seen_[t] == 0) {
            seen_[t] = 1;
            seen_list_[n_seen_++] = token;
        }
        count_[t] = count_[t] + 1.0f;
        if (!recent_.empty()) {
            recent_[static_cast<std::size_t>(n_accepted_ % recent_.size())] = token;
            last_accept_[t] = ++n_accepted_;
        }
    }

    // Forgets every accepted token and re-seeds the generator from config().seed. Logit biases stay.
    void reset() noexcept {
        for (std::size_t j = 0; j < n_seen_; ++j) {
            const auto s = static_cast<std::size_t>(seen_list_[j]);
            count_[s] = 0.0f;
            seen_[s] = 0;
        }
        n_seen_ = 0;
        forget_recent();
        rng_.reseed(cfg_.seed);
    }

    [[nodiscard]] const sampler_config& config() const noexcept { return cfg_; }
    [[nodiscard]] std::int32_t vocab_size() const noexcept { return vocab_; }

    // The generator, to save its state() with a session and set_state() it on restore.
    [[nodiscard]] rng& generator() noexcept { return rng_; }
    [[nodiscard]] const rng& generator() const noexcept { return rng_; }

    // Adds `bias` to the token's logit at every sample (after the penalties). −inf bans the token;
    // +inf forces it (shared with any other +inf token) unless its logit is −inf or NaN (then
    // −inf + inf = NaN → −inf: a ban wins); 0 removes the bias. NaN is rejected.
    void set_logit_bias(std::int32_t token, float bias) {
        check_token(token, "set_logit_bias");
        if (std::isnan(bias))
            throw rwkv::invalid_argument("sampler::set_logit_bias: bias for token " + std::to_string(token) +
                                         " is NaN");
        bias_[static_cast<std::size_t>(token)] = bias;
        if (bias != 0.0f) has_bias_ = true;
    }

    [[nodiscard]] float logit_bias(std::int32_t token) const {
        check_token(token, "logit_bias");
        return bias_[static_cast<std::size_t>(token)];
    }

    // Removes every logit bias.
    void clear_logit_bias() noexcept {
        std::fill(bias_.begin(), bias_.end(), 0.0f);
        has_bias_ = false;
    }

    // The decayed occurrence count of a token (0 if never accepted since the last reset).
    [[nodiscard]] float occurrence(std::int32_t token) const {
        check_token(token, "occurrence");
        return count_[static_cast<std::size_t>(token)];
    }

    // Whether the token was accepted since the last reset (the presence penalty applies to it).
    [[nodiscard]] bool seen(std::int32_t token) const {
        check_token(token, "seen");
        return seen_[static_cast<std::size_t>(token)] != 0;
    }

    // Step 1 of the pipeline on its own: out[t] = (logits[t] − penalty[t]) + bias[t], NaN → −inf.
    // Both spans must have vocab_size elements and be either the same memory or disjoint. Does not
    // allocate.
    void effective_logits(std::span<const float> logits, std::span<float> out) const {
        check_size(logits.size(), "logits");
        check_size(out.size(), "output");
        const std::size_t v = out.size();
        if (out.data() != logits.data()) std::copy(logits.begin(), logits.end(), out.begin());
        if (cfg_.repeat_penalty != 1.0f) {
            // The window is recent_[(n_accepted_ − w + j) mod size] for j < w; a token is penalized at
            // the position of its latest acceptance only, so once however often it repeats.
            const std::size_t size = recent_.size();
            const std::uint64_t w = std::min<std::uint64_t>(n_accepted_, size);
            for (std::uint64_t pos = n_accepted_ - w + 1; pos <= n_accepted_; ++pos) {
                const std::int32_t token = recent_[static_cast<std::size_t>((pos - 1) % size)];
                const auto s = static_cast<std::size_t>(token);
                if (last_accept_[s] != pos) continue;
                out[s] = out[s] > 0.0f ? out[s] / cfg_.repeat_penalty : out[s] * cfg_.repeat_penalty;
            }
        }
        if (cfg_.presence_penalty != 0.0f || cfg_.frequency_penalty != 0.0f) {
            for (std::size_t j = 0; j < n_seen_; ++j) {
                const auto s = static_cast<std::size_t>(seen_list_[j]);
                const float per_count = count_[s] * cfg_.frequency_penalty;
                const float penalty = cfg_.presence_penalty + per_count;
                out[s] = out[s] - penalty;
            }
        }
        if (has_bias_) {
            for (std::size_t i = 0; i < v; ++i) out[i] = out[i] + bias_[i];
        }
        for (std::size_t i = 0; i < v; ++i) {
            if (std::isnan(out[i])) out[i] = -std::numeric_limits<float>::infinity();
        }
    }

private:
    static void validate(const sampler_config& c, std::int32_t vocab_size) {
        auto bad = [](std::string_view field, float value, std::string_view rule) {
            throw rwkv::invalid_argument("sampler_config." + std::string(field) + " must be " + std::string(rule) +
                                         ", got " + detail::format_float(value));
        };
        if (!(std::isfinite(c.temperature) && c.temperature >= 0.0f))
            bad("temperature", c.temperature, "finite and >= 0 (0 = greedy)");
        if (!(c.top_p > 0.0f && c.top_p <= 1.0f)) bad("top_p", c.top_p, "in (0, 1] (1 = off)");
        if (c.top_k < 0)
            throw rwkv::invalid_argument("sampler_config.top_k must be >= 0 (0 = off), got " +
                                         std::to_string(c.top_k));
        if (!(c.min_p >= 0.0f && c.min_p <= 1.0f)) bad("min_p", c.min_p, "in [0, 1] (0 = off)");
        if (!std::isfinite(c.presence_penalty)) bad("presence_penalty", c.presence_penalty, "finite");
        if (!std::isfinite(c.frequency_penalty)) bad("frequency_penalty", c.frequency_penalty, "finite");
        if (!(c.penalty_decay > 0.0f && c.penalty_decay <= 1.0f))
            bad("penalty_decay", c.penalty_decay, "in (0, 1] (1 = no decay)");
        if (!(std::isfinite(c.repeat_penalty) && c.repeat_penalty > 0.0f))
            bad("repeat_penalty", c.repeat_penalty, "finite and > 0 (1 = off)");
        if (c.repeat_last_n < 0 || c.repeat_last_n > (1 << 20))
            throw rwkv::invalid_argument("sampler_config.repeat_last_n must be in [0, 1048576] (0 = off), got " +
                                         std::to_string(c.repeat_last_n));
        if (vocab_size <= 0)
            throw rwkv::invalid_argument("sampler: vocab_size must be > 0, got " + std::to_string(vocab_size));
    }

    void check_size(std::size_t size, const char* what) const {
        if (size != static_cast<std::size_t>(vocab_))
            throw rwkv::invalid_argument("sampler: " + std::string(what) + " has " + std::to_string(size) +
                                         " elements, expected vocab_size = " + std::to_string(vocab_));
    }

    // Empties the repeat window (its buffer keeps its size: nothing is freed).
    void forget_recent() noexcept {
        const std::size_t size = recent_.size();
        const std::uint64_t w = std::min<std::uint64_t>(n_accepted_, size);
        for (std::uint64_t pos = n_accepted_ - w + 1; pos <= n_accepted_; ++pos)
            last_accept_[static_cast<std::size_t>(recent_[static_cast<std::size_t>((pos - 1) % size)])] = 0;
        n_accepted_ = 0;
    }

    void check_token(std::int32_t token, const char* fn) const {
        if (token < 0 || token >= vocab_)
            throw rwkv::invalid_argument("sampler::" + std::string(fn) + ": token id " + std::to_string(token) +
                                         " is outside [0, " + std::to_string(vocab_) + ")");
    }

    sampler_config cfg_;
    std::int32_t vocab_;
    rng rng_;
    std::vector<float> work_;             // effective logits
    std::vector<detail::candidate> cand_; // candidates of the current sample() call
    std::vector<float> count_;            // decayed occurrence counts
    std::vector<std::uint8_t> seen_;      // accepted since the last reset
    std::vector<std::int32_t> seen_list_; // the first n_seen_ entries: ids with seen_ set
    std::vector<float> bias_;
    std::vector<std::int32_t> recent_;       // ring of the last repeat_last_n accepted tokens
    std::vector<std::uint64_t> last_accept_; // per token: 1 + the accept index of its latest acceptance, 0 = none
    std::uint64_t n_accepted_ = 0;           // accepts since the last reset (while the window is on)
    std::size_t n_seen_ = 0;
    bool has_bias_ = false;
};

}  // namespace rwkv::generate
