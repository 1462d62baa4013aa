// rwkv/generate/rng.hpp — the sampler's pseudo-random generator: PCG32 with explicit, saveable state.
//
// The generator is PCG32 (O'Neill's XSH-RR output on a 64-bit LCG; pcg-random.org's pcg32_random_r).
// Its whole state is two u64 (`rng_state`), so a session can store it next to the model state and a
// restored session continues the exact same stream. A u64 seed is spread over both words through
// SplitMix64, so nearby seeds (0, 1, 2, …) give unrelated streams.
//
// Every output is integer arithmetic or an exact integer→float conversion, so the streams are
// bit-identical on every compiler and platform. `uniform_float()` takes the top 24 bits of one draw
// and scales by 2^-24, so it returns a multiple of 2^-24 in [0, 1). The std::uniform_*_distribution
// classes are never used: their output is implementation-defined.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "rwkv/core/error.hpp"

namespace rwkv::generate {

// SplitMix64 (Steele, Lea, Flood 2014): advances `x` by the golden-ratio increment and returns the
// mixed value. Used only to expand a seed into the generator's state.
[[nodiscard]] inline std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// The complete generator state. `inc` is the LCG increment and must be odd.
struct rng_state {
    std::uint64_t state = 0;
    std::uint64_t inc = 1;

    friend bool operator==(const rng_state&, const rng_state&) = default;
};

// Size of `rng_state` in its byte encoding: `state` then `inc`, each little-endian.
inline constexpr std::size_t rng_state_bytes = 16;

// Encodes a state as 16 little-endian bytes (independent of the host's byte order).
[[nodiscard]] inline std::array<std::uint8_t, rng_state_bytes> rng_state_to_bytes(const rng_state& s) noexcept {
    std::array<std::uint8_t, rng_state_bytes> out{};
    for (std::size_t i = 0; i < 8; ++i) {
        out[i] = static_cast<std::uint8_t>(s.state >> (8 * i));
        out[8 + i] = static_cast<std::uint8_t>(s.inc >> (8 * i));
    }
    return out;
}

// Decodes the 16 bytes written by rng_state_to_bytes. Does not validate; rng::set_state does.
[[nodiscard]] inline rng_state rng_state_from_bytes(std::span<const std::uint8_t, rng_state_bytes> b) noexcept {
    rng_state s{0, 0};
    for (std::size_t i = 0; i < 8; ++i) {
        s.state |= static_cast<std::uint64_t>(b[i]) << (8 * i);
        s.inc |= static_cast<std::uint64_t>(b[8 + i]) << (8 * i);
    }
    return s;
}

class rng {
public:
    static constexpr std::uint64_t multiplier = 6364136223846793005ULL;

    // Seeds through SplitMix64: initstate = splitmix64 #1, stream = splitmix64 #2, then the standard
    // pcg32_srandom_r procedure.
    explicit rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

    void reseed(std::uint64_t seed) noexcept {
        std::uint64_t x = seed;
        const std::uint64_t init_state = splitmix64(x);
        const std::uint64_t init_seq = splitmix64(x);
        seed_pcg(init_state, init_seq);
    }

    // pcg32_srandom_r(initstate, initseq) exactly, for checking against PCG's published vectors
    // (initstate 42, initseq 54 → 0xa15c02b7 0x7b47f409 …).
    void seed_pcg(std::uint64_t init_state, std::uint64_t init_seq) noexcept {
        s_.state = 0;
        s_.inc = (init_seq << 1) | 1u;
        (void)next_u32();
        s_.state += init_state;
        (void)next_u32();
    }

    // One PCG32 (XSH-RR) output; advances the state once.
    std::uint32_t next_u32() noexcept {
        const std::uint64_t old = s_.state;
        s_.state = old * multiplier + s_.inc;
        const auto xorshifted = static_cast<std::uint32_t>(((old >> 18) ^ old) >> 27);
        const auto rot = static_cast<std::uint32_t>(old >> 59);
        return (xorshifted >> rot) | (xorshifted << ((0u - rot) & 31u));
    }

    // Two draws: the first is the high word, the second the low word.
    std::uint64_t next_u64() noexcept {
        const std::uint64_t hi = next_u32();
        const std::uint64_t lo = next_u32();
        return (hi << 32) | lo;
    }

    // One draw; k · 2^-24 with k the top 24 bits, so in [0, 1), exactly representable, never 1.
    float uniform_float() noexcept {
        return static_cast<float>(next_u32() >> 8) * 0x1p-24f;
    }

    [[nodiscard]] rng_state state() const noexcept { return s_; }

    // Restores a state saved with state(). An even increment cannot come from this generator (it
    // would shorten the period), so it is rejected as corrupt.
    void set_state(const rng_state& s) {
        if ((s.inc & 1u) == 0)
            throw rwkv::invalid_argument("rng::set_state: rng_state.inc must be odd, got " + std::to_string(s.inc));
        s_ = s;
    }

    friend bool operator==(const rng&, const rng&) = default;

private:
    rng_state s_{};
};

}  // namespace rwkv::generate
