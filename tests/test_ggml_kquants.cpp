// ggml's K-quant super-blocks (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) decode to exactly the values their
// layout describes. Each test packs a block from known per-weight codes and per-sub-block scales (the
// packing written from the layout in io/ggml_types.hpp, weight by weight, not by the decoder's loops)
// and checks every decoded weight, so every scale, min and bit position is exercised.
#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "rwkv/io/ggml_types.hpp"

using namespace rwkv;

namespace {

// A small deterministic sequence.
struct lcg {
    std::uint32_t s = 12345;
    unsigned next(unsigned n) {
        s = s * 1664525u + 1013904223u;
        return (s >> 8) % n;
    }
};

void put_f16(std::vector<std::byte>& b, std::size_t at, float x) {
    const std::uint16_t bits = rwkv::f16::from_float(x).bits;
    std::memcpy(&b[at], &bits, 2);
}

void or_byte(std::vector<std::byte>& b, std::size_t at, unsigned v) {
    b[at] |= static_cast<std::byte>(v & 0xffu);
}

std::vector<float> decode(std::uint32_t type, const std::vector<std::byte>& block) {
    REQUIRE(block.size() == io::ggml_layout(type).block_bytes);
    std::vector<float> out(256);
    io::ggml_to_f32(type, block.data(), 256, out.data());
    return out;
}

// Q4_K/Q5_K's 12 bytes of 6-bit scales and mins (sc[i], m[i] < 64 for sub-blocks i = 0..7).
void pack_k4_scales(std::vector<std::byte>& b, std::size_t at, const std::array<unsigned, 8>& sc,
                    const std::array<unsigned, 8>& m) {
    for (std::size_t i = 0; i < 4; ++i) {
        or_byte(b, at + i, (sc[i] & 63u) | (sc[i + 4] >> 4) << 6);
        or_byte(b, at + i + 4, (m[i] & 63u) | (m[i + 4] >> 4) << 6);
        or_byte(b, at + i + 8, (sc[i + 4] & 15u) | (m[i + 4] & 15u) << 4);
    }
}

}  // namespace

TEST_CASE("ggml K-quant layouts: sizes and type names", "[gguf][kquant]") {
    CHECK(io::ggml_layout(io::ggml_type::q2_k).block_bytes == 84);
    CHECK(io::ggml_layout(io::ggml_type::q3_k).block_bytes == 110);
    CHECK(io::ggml_layout(io::ggml_type::q4_k).block_bytes == 144);
    CHECK(io::ggml_layout(io::ggml_type::q5_k).block_bytes == 176);
    CHECK(io::ggml_layout(io::ggml_type::q6_k).block_bytes == 210);
    for (auto t : {io::ggml_type::q2_k, io::ggml_type::q3_k, io::ggml_type::q4_k, io::ggml_type::q5_k, io::ggml_type::q6_k})
        CHECK(io::ggml_layout(t).block_elements == 256);
    CHECK(io::ggml_layout(15).block_elements == 0);  // Q8_K is not a storage type we read
    CHECK(io::ggml_type_name(io::ggml_type::q6_k) == "Q6_K (type 14)");
}

TEST_CASE("Q4_K and Q5_K: 6-bit scales and mins, nibbles per 64 weights, the fifth bit from qh", "[gguf][kquant]") {
    for (const bool five : {false, true}) {
        INFO((five ? "Q5_K" : "Q4_K"));
        const auto type = five ? io::ggml_type::q5_k : io::ggml_type::q4_k;
        std::vector<std::byte> b(io::ggml_layout(type).block_bytes);
        const float d = 0.125f, dmin = 0.75f;
        put_f16(b, 0, d);
        put_f16(b, 2, dmin);
        // Scales and mins that use all six bits, both halves of the packing.
        const std::array<unsigned, 8> sc{1, 63, 17, 32, 5, 48, 63, 33}, m{0, 2, 63, 40, 47, 16, 1, 62};
        pack_k4_scales(b, 4, sc, m);
        const std::size_t qs = five ? 48 : 16, qh = 16;
        lcg r;
        std::array<unsigned, 256> q{};
        for (std::size_t w = 0; w < 256; ++w) {
            q[w] = r.next(five ? 32 : 16);
            const std::size_t g = w / 64, h = w % 64 / 32, l = w % 32;
            or_byte(b, qs + g * 32 + l, (q[w] & 15u) << (4 * h));
            if (five) or_byte(b, qh + l, (q[w] >> 4) << (2 * g + h));
        }
        const auto out = decode(type, b);
        for (std::size_t w = 0; w < 256; ++w) {
            INFO("weight " << w);
            const std::size_t i = w / 32;
            CHECK(out[w] == (d * static_cast<float>(sc[i])) * static_cast<float>(q[w]) - dmin * static_cast<float>(m[i]));
        }
        CHECK(out[0] == 0.125f * static_cast<float>(q[0]));  // sub-block 0: scale 1, min 0
    }
}

TEST_CASE("Q6_K: 6-bit codes from ql nibbles and qh pairs, int8 scales per 16 weights", "[gguf][kquant]") {
    std::vector<std::byte> b(210);
    const float d = 0.0625f;
    put_f16(b, 208, d);
    std::array<int, 16> sc{};
    for (std::size_t i = 0; i < 16; ++i) {
        sc[i] = static_cast<int>(i * 17 % 256) - 128;  // negative and positive, -128 included
        b[192 + i] = static_cast<std::byte>(static_cast<std::uint8_t>(static_cast<std::int8_t>(sc[i])));
    }
    lcg r;
    std::array<unsigned, 256> q{};
    for (std::size_t w = 0; w < 256; ++w) {
        q[w] = r.next(64);
        const std::size_t half = w / 128, k = w % 128 / 32, l = w % 32;
        or_byte(b, half * 64 + l + 32 * (k & 1), (q[w] & 15u) << (4 * (k >> 1)));
        or_byte(b, 128 + half * 32 + l, (q[w] >> 4) << (2 * k));
    }
    const auto out = decode(io::ggml_type::q6_k, b);
    for (std::size_t w = 0; w < 256; ++w) {
        INFO("weight " << w);
        CHECK(out[w] == d * static_cast<float>(sc[w / 16]) * static_cast<float>(static_cast<int>(q[w]) - 32));
    }
    // Weight 0 read by hand from the bytes: low nibble of ql[0], bits 0-1 of qh[0].
    const unsigned q0 = (std::to_integer<unsigned>(b[0]) & 15u) | (std::to_integer<unsigned>(b[128]) & 3u) << 4;
    CHECK(out[0] == d * static_cast<float>(sc[0]) * static_cast<float>(static_cast<int>(q0) - 32));
}

TEST_CASE("Q2_K: 4-bit scale and min nibbles, 2-bit codes", "[gguf][kquant]") {
    std::vector<std::byte> b(84);
    const float d = 0.5f, dmin = 0.25f;
    put_f16(b, 80, d);
    put_f16(b, 82, dmin);
    lcg r;
    std::array<unsigned, 16> sc{}, m{};
    for (std::size_t i = 0; i < 16; ++i) {
        sc[i] = r.next(16);
        m[i] = static_cast<unsigned>(15 - i);
        b[i] = static_cast<std::byte>(sc[i] | m[i] << 4);
    }
    std::array<unsigned, 256> q{};
    for (std::size_t w = 0; w < 256; ++w) {
        q[w] = r.next(4);
        const std::size_t half = w / 128, shift = w % 128 / 32, l = w % 32;
        or_byte(b, 16 + half * 32 + l, q[w] << (2 * shift));
    }
    const auto out = decode(io::ggml_type::q2_k, b);
    for (std::size_t w = 0; w < 256; ++w) {
        INFO("weight " << w);
        const std::size_t i = w / 16;
        CHECK(out[w] == (d * static_cast<float>(sc[i])) * static_cast<float>(q[w]) - dmin * static_cast<float>(m[i]));
    }
}

TEST_CASE("Q3_K: 6-bit scales split over 12 bytes, the third bit from hmask (clear = minus 4)", "[gguf][kquant]") {
    std::vector<std::byte> b(110);
    const float d = 0.25f;
    put_f16(b, 108, d);
    std::array<unsigned, 16> s{};
    for (std::size_t i = 0; i < 16; ++i) {
        s[i] = (i * 23 + 5) % 64;
        or_byte(b, 96 + i % 8, (s[i] & 15u) << (4 * (i / 8)));
        or_byte(b, 96 + 8 + i % 4, (s[i] >> 4) << (2 * (i / 4)));
    }
    lcg r;
    std::array<int, 256> v{};  // the code after the third bit: -4..3
    for (std::size_t w = 0; w < 256; ++w) {
        const unsigned q = r.next(8);  // 0..7: low 2 bits stored, bit 2 set means "no minus 4"
        v[w] = static_cast<int>(q & 3u) - ((q & 4u) ? 0 : 4);
        const std::size_t half = w / 128, shift = w % 128 / 32, l = w % 32;
        or_byte(b, 32 + half * 32 + l, (q & 3u) << (2 * shift));
        or_byte(b, l, (q >> 2) << (w / 32));
    }
    const auto out = decode(io::ggml_type::q3_k, b);
    for (std::size_t w = 0; w < 256; ++w) {
        INFO("weight " << w);
        CHECK(out[w] == (d * static_cast<float>(static_cast<int>(s[w / 16]) - 32)) * static_cast<float>(v[w]));
    }
}

TEST_CASE("K-quant rows of several super-blocks decode block by block", "[gguf][kquant]") {
    std::vector<std::byte> two(2 * 210);
    std::vector<std::byte> one(210);
    put_f16(one, 208, 1.0f);
    one[192] = std::byte{1};
    one[0] = std::byte{5};  // weight 0: q = 5 → 5 − 32
    std::memcpy(two.data() + 210, one.data(), 210);
    std::vector<float> out(512);
    io::ggml_to_f32(io::ggml_type::q6_k, two.data(), 512, out.data());
    CHECK(out[0] == 0.0f);  // the all-zero first block: d = 0
    CHECK(out[256] == -27.0f);
    CHECK(out[257] == -32.0f);
}
