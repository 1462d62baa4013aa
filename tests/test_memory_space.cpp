// Tests of memory spaces (include/rwkv/core/memory_space.hpp), the buffers and views tagged with
// them (core/buffer.hpp, core/tensor.hpp) and the platform layer under them (core/platform.hpp),
// against the host heap and the test-only isolated space (tests/support/isolated_space.hpp).
#include <catch2/catch.hpp>
#ifndef _WIN32
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "rwkv/core/buffer.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/memory_space.hpp"
#include "rwkv/core/platform.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/core/tensor.hpp"
#include "support/isolated_space.hpp"

namespace {

using rwkv::aligned_buffer;
using rwkv::buffer;
using rwkv::const_matrix_view;
using rwkv::host_space;
using rwkv::matrix_view;
using rwkv::tensor3_view;
using rwkv::vector_view;
using rwkv::testing::isolated_space;

// A second isolated space (its own region): copies between it and isolated_space stage through the host.
struct other_tag {
    static constexpr std::string_view name = "other";
};
using other_space = rwkv::testing::basic_isolated_space<other_tag>;

// A third one, with a direct path from isolated_space that counts its uses (space_pair_copy).
struct linked_tag {
    static constexpr std::string_view name = "linked";
};
using linked_space = rwkv::testing::basic_isolated_space<linked_tag>;
int linked_copies = 0;

}  // namespace

template <>
struct rwkv::space_pair_copy<linked_space, isolated_space> {
    static constexpr bool available = true;
    static void copy(void* dst, const void* src, std::size_t bytes) {
        ++linked_copies;
        const isolated_space::access a;  // both regions open: the "peer-to-peer" copy
        const linked_space::access b;
        std::memcpy(dst, src, bytes);
    }
};

namespace {

// ---- what may be written, checked at compile time -------------------------------------------------

template <class V> concept index2 = requires(V v) { v(0, 0); };
template <class V> concept index3 = requires(V v) { v(0, 0, 0); };
template <class V> concept subscript = requires(V v) { v[0]; };
template <class V> concept has_row = requires(V v) { v.row(0); };
template <class V> concept has_flat = requires(V v) { v.flat(); };
template <class V> concept has_data = requires(V v) { v.data(); };
template <class V> concept has_span = requires(V v) { v.span(); };
template <class V> concept iterable = requires(V v) { v.begin(); v.end(); };
template <class V> concept sliceable = requires(V v) {
    { v.rows_slice(0, 1) } -> std::same_as<V>;
    { v.cols_slice(0, 1) } -> std::same_as<V>;
    { v.data_handle() };
};

using host_m = matrix_view<float>;
using iso_m = matrix_view<float, isolated_space>;
using iso_cm = const_matrix_view<float, isolated_space>;
using host_t3 = tensor3_view<float>;
using iso_t3 = tensor3_view<float, isolated_space>;
using host_v = vector_view<const float>;
using iso_v = vector_view<float, isolated_space>;

// The defaults are the host views the library has always had.
static_assert(std::is_same_v<matrix_view<float>, matrix_view<float, host_space>>);
static_assert(std::is_same_v<const_matrix_view<float>, matrix_view<const float, host_space>>);
static_assert(std::is_same_v<aligned_buffer<float>, buffer<float, host_space>>);
static_assert(std::is_same_v<tensor3_view<float>, tensor3_view<float, host_space>>);
static_assert(std::is_aggregate_v<tensor3_view<float>>);
// The quantized matrix views (core/quant.hpp specializes matrix_view<const Q>) still apply.
static_assert(requires(const_matrix_view<rwkv::int8_block> q) { q.kernel_rows(); });

// Host views: element access.
static_assert(index2<host_m> && has_row<host_m> && has_flat<host_m> && sliceable<host_m>);
static_assert(index2<const_matrix_view<float>> && has_row<const_matrix_view<float>>);
static_assert(index3<host_t3>);
static_assert(subscript<host_v> && has_data<host_v> && has_span<host_v> && iterable<host_v>);
static_assert(std::ranges::contiguous_range<host_v> && std::ranges::borrowed_range<host_v>);

// Isolated views: slicing and shape, but no element access.
static_assert(!index2<iso_m> && !has_row<iso_m> && !has_flat<iso_m> && sliceable<iso_m>);
static_assert(!index2<iso_cm> && !has_row<iso_cm> && !has_flat<iso_cm> && sliceable<iso_cm>);
static_assert(!index3<iso_t3> && requires(iso_t3 t) { { t.slice(0) } -> std::same_as<iso_m>; });
static_assert(!subscript<iso_v> && !has_data<iso_v> && !has_span<iso_v> && !iterable<iso_v>);
static_assert(!std::ranges::range<iso_v>);
static_assert(requires(iso_v v) { { v.subview(0, 1) } -> std::same_as<iso_v>; v.data_handle(); v.size(); });

// Buffers: the same split.
static_assert(subscript<aligned_buffer<float>> && has_data<aligned_buffer<float>> && has_span<aligned_buffer<float>>);
static_assert(!subscript<buffer<float, isolated_space>> && !has_data<buffer<float, isolated_space>> &&
              !has_span<buffer<float, isolated_space>>);
static_assert(std::is_same_v<decltype(std::declval<buffer<float, isolated_space>&>().view()), iso_v>);
static_assert(std::is_same_v<decltype(std::declval<const buffer<float, isolated_space>&>().view()),
                             vector_view<const float, isolated_space>>);
static_assert(std::is_nothrow_move_constructible_v<buffer<float, isolated_space>> &&
              std::is_nothrow_move_assignable_v<buffer<float, isolated_space>>);

// Conversions: mutable → read-only within a space; never between spaces; host vectors ↔ std::span.
static_assert(std::is_convertible_v<iso_m, iso_cm> && !std::is_convertible_v<iso_cm, iso_m>);
static_assert(!std::is_convertible_v<iso_m, const_matrix_view<float>> && !std::is_convertible_v<host_m, iso_cm>);
static_assert(std::is_convertible_v<iso_t3, tensor3_view<const float, isolated_space>>);
static_assert(!std::is_convertible_v<iso_t3, tensor3_view<const float>>);
static_assert(std::is_convertible_v<iso_v, vector_view<const float, isolated_space>>);
static_assert(!std::is_convertible_v<iso_v, vector_view<float>> && !std::is_convertible_v<vector_view<float>, iso_v>);
static_assert(!std::is_convertible_v<std::span<float>, iso_v> && !std::is_convertible_v<iso_v, std::span<float>>);
static_assert(!std::is_convertible_v<std::vector<float>&, iso_v>);
static_assert(std::is_convertible_v<std::span<float>, vector_view<float>>);
static_assert(std::is_convertible_v<std::span<const float>, vector_view<const float>>);
static_assert(!std::is_convertible_v<std::span<const float>, vector_view<float>>);
static_assert(std::is_convertible_v<std::vector<float>&, vector_view<float>>);
static_assert(std::is_convertible_v<const std::vector<float>&, vector_view<const float>>);
static_assert(!std::is_convertible_v<std::vector<float>&&, vector_view<float>>);  // would dangle
static_assert(std::is_convertible_v<vector_view<float>, std::span<float>>);
static_assert(std::is_convertible_v<vector_view<float>, std::span<const float>>);
static_assert(std::is_convertible_v<vector_view<float>, vector_view<const float>>);
static_assert(!std::is_convertible_v<vector_view<const float>, std::span<float>>);

static_assert(rwkv::memory_space<host_space> && rwkv::memory_space<isolated_space>);
static_assert(rwkv::host_accessible_space<host_space> && !rwkv::host_accessible_space<isolated_space>);
static_assert(!rwkv::memory_space<int>);

std::vector<float> iota_floats(std::size_t n, float first = 1.0f) {
    std::vector<float> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

#ifndef _WIN32  // the death checks need fork(); Windows runs the rest of these tests
// Whether `f` (run in a forked child) dies rather than returning. The child drops the test
// framework's (and a sanitizer's) fatal-signal handlers, which would report the expected death as a
// failure, and the messages of an expected abort.
template <class F>
bool dies(F f) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        for (const int sig : {SIGSEGV, SIGBUS, SIGABRT}) std::signal(sig, SIG_DFL);
        if (const int null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, STDERR_FILENO);
        f();
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

}  // namespace

TEST_CASE("aligned_buffer keeps its alignment, zeroes and huge pages", "[memory_space]") {
    const aligned_buffer<float> empty;
    CHECK(empty.size() == 0);
    CHECK(empty.data() == nullptr);
    CHECK(empty.span().empty());
    const aligned_buffer<float> none(0);
    CHECK(none.data() == nullptr);

    for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{1000}, std::size_t{1} << 19}) {
        const aligned_buffer<float> b(n);
        REQUIRE(b.size() == n);
        CHECK(b.bytes() == n * sizeof(float));
        CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0);
        CHECK(std::all_of(b.span().begin(), b.span().end(), [](float x) { return x == 0.0f; }));
    }
    // 2 MiB and more: 2 MiB aligned.
    const aligned_buffer<std::uint8_t> huge(host_space::huge_page + 1);
    CHECK(reinterpret_cast<std::uintptr_t>(huge.data()) % host_space::huge_page == 0);
    CHECK(huge[host_space::huge_page] == 0);
    const aligned_buffer<double> exact(host_space::huge_page / sizeof(double));
    CHECK(reinterpret_cast<std::uintptr_t>(exact.data()) % host_space::huge_page == 0);
    // Just below: the ordinary alignment only is promised.
    const aligned_buffer<std::uint8_t> below(host_space::huge_page - 1);
    CHECK(reinterpret_cast<std::uintptr_t>(below.data()) % 64 == 0);
    // Over-aligned element types get their own alignment.
    struct alignas(128) wide {
        float x[32];
    };
    const aligned_buffer<wide> w(3);
    CHECK(reinterpret_cast<std::uintptr_t>(w.data()) % 128 == 0);
}

TEST_CASE("aligned_buffer is a value: copies are deep, moves hand over", "[memory_space]") {
    aligned_buffer<float> a(5);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) + 0.5f;
    aligned_buffer<float> b = a;
    REQUIRE(b.size() == 5);
    CHECK(b.data() != a.data());
    b[0] = 100.0f;
    CHECK(a[0] == 0.5f);
    CHECK(b[4] == 4.5f);

    aligned_buffer<float> c(2);
    c = a;
    CHECK(c.size() == 5);
    CHECK(c[3] == 3.5f);
    const aligned_buffer<float>& same = c;
    c = same;  // self-assignment keeps the contents
    CHECK(c[3] == 3.5f);

    const float* p = a.data();
    aligned_buffer<float> d = std::move(a);
    CHECK(d.data() == p);
    CHECK(d.size() == 5);
    CHECK(a.size() == 0);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    CHECK(a.data() == nullptr);
    aligned_buffer<float> e(7);
    e = std::move(d);
    CHECK(e.data() == p);
    CHECK(e.size() == 5);

    std::vector<float> out(5);
    e.copy_to_host(out);
    CHECK(out == std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f, 4.5f});
    const std::vector<float> in{9, 8, 7, 6, 5};
    e.copy_from_host(in);
    CHECK(e[0] == 9.0f);
    CHECK_THROWS_AS(e.copy_from_host(std::vector<float>(4)), rwkv::invalid_argument);
    std::vector<float> six(6);
    CHECK_THROWS_AS(e.copy_to_host(six), rwkv::invalid_argument);
}

TEST_CASE("isolated buffers round-trip through the host and stay out of its heap", "[memory_space]") {
    const std::size_t live = isolated_space::live_allocations(), in_use = isolated_space::bytes_in_use();
    {
        buffer<float, isolated_space> b(100);
        REQUIRE(b.size() == 100);
        CHECK(b.bytes() == 400);
        CHECK(isolated_space::contains(b.data_handle(), b.bytes()));
        CHECK(reinterpret_cast<std::uintptr_t>(b.data_handle()) % 64 == 0);
        CHECK(isolated_space::live_allocations() == live + 1);
        CHECK_FALSE(isolated_space::accessible());

        std::vector<float> out(100, -1.0f);
        b.copy_to_host(out);  // zero-initialised through the space's fill (fresh memory is 0xA5…)
        CHECK(std::all_of(out.begin(), out.end(), [](float x) { return x == 0.0f; }));

        const auto in = iota_floats(100);
        b.copy_from_host(in);
        b.copy_to_host(out);
        CHECK(out == in);
        CHECK_THROWS_AS(b.copy_from_host(iota_floats(99)), rwkv::invalid_argument);

        // Within the space: a deep copy, independent of its source.
        buffer<float, isolated_space> c = b;
        CHECK(c.data_handle() != b.data_handle());
        CHECK(isolated_space::contains(c.data_handle(), c.bytes()));
        b.copy_from_host(iota_floats(100, 1000.0f));
        c.copy_to_host(out);
        CHECK(out == in);
        buffer<float, isolated_space> small(3);
        small = c;
        small.copy_to_host(out);
        CHECK(out == in);

        // Moves hand the memory over.
        const float* p = c.data_handle();
        buffer<float, isolated_space> d = std::move(c);
        CHECK(d.data_handle() == p);
        CHECK(c.empty());  // NOLINT(bugprone-use-after-move)
        CHECK(c.data_handle() == nullptr);
        buffer<float, isolated_space> e;
        e = std::move(d);
        CHECK(e.data_handle() == p);
        CHECK(e.size() == 100);
        CHECK(isolated_space::live_allocations() == live + 3);  // b, small, e

        const buffer<float, isolated_space> none(0);
        CHECK(none.data_handle() == nullptr);
        none.copy_to_host(std::span<float>{});
    }
    // Everything given back.
    CHECK(isolated_space::live_allocations() == live);
    CHECK(isolated_space::bytes_in_use() == in_use);
}

TEST_CASE("the isolated heap reuses and coalesces what is freed", "[memory_space]") {
    const std::size_t in_use = isolated_space::bytes_in_use();
    std::vector<buffer<std::uint8_t, isolated_space>> many;
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 1; i <= 200; ++i) many.emplace_back(i * 37);
        for (const auto& b : many) CHECK(isolated_space::contains(b.data_handle(), b.bytes()));
        // No two live allocations overlap.
        std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
        for (const auto& b : many) {
            const auto a = reinterpret_cast<std::uintptr_t>(b.data_handle());
            ranges.emplace_back(a, a + b.bytes());
        }
        std::sort(ranges.begin(), ranges.end());
        for (std::size_t i = 1; i < ranges.size(); ++i) CHECK(ranges[i - 1].second <= ranges[i].first);
        many.erase(many.begin(), many.begin() + 150);
    }
    many.clear();
    CHECK(isolated_space::bytes_in_use() == in_use);
    // A large allocation fits again once the small ones are gone (coalesced free list).
    const buffer<float, isolated_space> big(std::size_t{16} << 20);
    CHECK(isolated_space::contains(big.data_handle(), big.bytes()));
    CHECK(reinterpret_cast<std::uintptr_t>(isolated_space::allocate(0, 64)) == 0);
}

TEST_CASE("fill and copy work inside a space", "[memory_space]") {
    buffer<std::uint8_t, isolated_space> b(300);
    isolated_space::fill(b.data_handle() + 10, std::byte{0x7f}, 100);
    rwkv::fill_zero<isolated_space>(b.data_handle() + 50, 10);
    std::vector<std::uint8_t> out(300);
    b.copy_to_host(out);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const bool patterned = i >= 10 && i < 110 && !(i >= 50 && i < 60);
        REQUIRE(out[i] == (patterned ? 0x7f : 0));
    }
    isolated_space::copy(b.data_handle() + 200, b.data_handle() + 10, 50);
    b.copy_to_host(out);
    for (std::size_t i = 200; i < 250; ++i) REQUIRE(out[i] == out[i - 190]);

    aligned_buffer<std::uint8_t> h(16);
    host_space::fill(h.data(), std::byte{3}, 16);
    CHECK(h[15] == 3);
    rwkv::fill_zero<host_space>(h.data(), 8);
    CHECK(h[7] == 0);
    CHECK(h[8] == 3);
}

TEST_CASE("deep_copy moves data between any two spaces", "[memory_space]") {
    const auto in = iota_floats(1000);
    aligned_buffer<float> host(1000);
    host.copy_from_host(in);

    buffer<float, isolated_space> iso(1000);
    rwkv::deep_copy(iso, host);  // host → space: copy_from_host
    buffer<float, isolated_space> iso2(1000);
    rwkv::deep_copy(iso2, iso);  // within the space
    buffer<float, other_space> other(1000);
    rwkv::deep_copy(other, iso2);  // between two spaces the host cannot reach: staged
    CHECK(other_space::contains(other.data_handle(), other.bytes()));
    buffer<float, linked_space> linked(1000);
    linked_copies = 0;
    rwkv::deep_copy(linked, iso);  // the pair's own path
    CHECK(linked_copies == 1);
    buffer<float, isolated_space> back(1000);
    rwkv::deep_copy(back, linked);  // no hook that way: staged
    CHECK(linked_copies == 1);

    aligned_buffer<float> out(1000), out2(1000);
    rwkv::deep_copy(out, other);  // space → host: copy_to_host
    rwkv::deep_copy(out2, back);
    CHECK(std::equal(out.span().begin(), out.span().end(), in.begin()));
    CHECK(std::equal(out2.span().begin(), out2.span().end(), in.begin()));
    aligned_buffer<float> out3(1000);
    rwkv::deep_copy(out3, host);
    CHECK(out3[999] == 1000.0f);

    // More than the staging piece (4 MiB), in pieces.
    const std::size_t n = (std::size_t{9} << 20) / sizeof(float) + 3;
    aligned_buffer<float> big(n);
    for (std::size_t i = 0; i < n; ++i) big[i] = static_cast<float>(i % 1013);
    buffer<float, isolated_space> big_iso(n);
    buffer<float, other_space> big_other(n);
    rwkv::deep_copy(big_iso, big);
    rwkv::deep_copy(big_other, big_iso);
    aligned_buffer<float> big_back(n);
    rwkv::deep_copy(big_back, big_other);
    CHECK(std::equal(big.span().begin(), big.span().end(), big_back.span().begin()));

    aligned_buffer<float> wrong(999);
    CHECK_THROWS_AS(rwkv::deep_copy(wrong, iso), rwkv::invalid_argument);
    CHECK_THROWS_AS(rwkv::deep_copy(iso.view(), wrong.view()), rwkv::invalid_argument);
}

TEST_CASE("views of an isolated space slice without touching it", "[memory_space]") {
    // A 4 × 6 matrix: element (i, j) = 10 i + j.
    std::vector<float> m(24);
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 6; ++j) m[i * 6 + j] = static_cast<float>(10 * i + j);
    buffer<float, isolated_space> b(24);
    b.copy_from_host(m);

    const iso_m whole{b.data_handle(), 4, 6};
    CHECK(whole.data_handle() == b.data_handle());
    CHECK(whole.size() == 24);
    CHECK(whole.contiguous());
    const iso_m part = whole.rows_slice(1, 2).cols_slice(2, 3);  // rows 1–2, columns 2–4: strided
    CHECK(part.rows == 2);
    CHECK(part.cols == 3);
    CHECK(part.stride == 6);
    CHECK_FALSE(part.contiguous());
    CHECK(part.data_handle() == b.data_handle() + 8);
    CHECK_FALSE(isolated_space::accessible());  // no element was read

    // Downloading the strided slice copies it row by row.
    std::vector<float> got(6);
    const iso_cm read_only = part;
    rwkv::deep_copy(matrix_view<float>{got.data(), 2, 3}, read_only);
    CHECK(got == std::vector<float>{12, 13, 14, 22, 23, 24});
    // Uploading into a strided slice leaves the rest alone.
    const std::vector<float> ones(6, -1.0f);
    rwkv::deep_copy(part, const_matrix_view<float>{ones.data(), 2, 3});
    std::vector<float> all(24);
    b.copy_to_host(all);
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 6; ++j) {
            const bool inside = i >= 1 && i < 3 && j >= 2 && j < 5;
            REQUIRE(all[i * 6 + j] == (inside ? -1.0f : static_cast<float>(10 * i + j)));
        }
    CHECK_THROWS_AS(rwkv::deep_copy(matrix_view<float>{got.data(), 3, 2}, read_only), rwkv::invalid_argument);

    // A 2 × 3 × 4 tensor: its slices are isolated matrices.
    const iso_t3 t{b.data_handle(), 2, 3, 4};
    CHECK(t.size() == 24);
    const iso_m s1 = t.slice(1);
    CHECK(s1.data_handle() == b.data_handle() + 12);
    CHECK(s1.rows == 3);
    CHECK(s1.cols == 4);
    const tensor3_view<const float, isolated_space> ct = t;
    CHECK(ct.data_handle() == t.data_handle());

    // Vectors.
    const iso_v v = b.view();
    const iso_v tail = v.subview(20);
    CHECK(tail.size() == 4);
    CHECK(tail.size_bytes() == 16);
    CHECK(tail.data_handle() == b.data_handle() + 20);
    const vector_view<const float, isolated_space> mid = v.subview(6, 3);
    std::vector<float> three(3);
    rwkv::deep_copy(vector_view<float>{three}, mid);
    CHECK(three == std::vector<float>{10, 11, -1});  // row 1, columns 0–2 (column 2 was overwritten)
    CHECK_FALSE(isolated_space::accessible());
}

TEST_CASE("host views keep their element access and convert to and from std::span", "[memory_space]") {
    std::vector<float> data = iota_floats(12, 0.0f);
    const host_m m{data.data(), 3, 4};
    CHECK(m(2, 3) == 11.0f);
    CHECK(m.row(1)[0] == 4.0f);
    CHECK(m.flat().size() == 12);
    CHECK(m.cols_slice(1, 2)(2, 1) == 10.0f);
    const const_matrix_view<float> cm = m;
    CHECK(cm(1, 1) == 5.0f);

    const host_t3 t{data.data(), 2, 2, 3};
    CHECK(t(1, 0, 2) == 8.0f);
    CHECK(t.slice(1)(1, 2) == 11.0f);
    const tensor3_view<const float> ct = t;
    CHECK(ct(0, 1, 1) == 4.0f);

    vector_view<float> v = data;
    CHECK(v.size() == 12);
    CHECK(v[3] == 3.0f);
    v[3] = 30.0f;
    CHECK(data[3] == 30.0f);
    float sum = 0.0f;
    for (const float x : v.subview(0, 4)) sum += x;
    CHECK(sum == 0.0f + 1.0f + 2.0f + 30.0f);

    const std::span<const float> s = v;  // to std::span
    CHECK(s.data() == data.data());
    CHECK(s.size() == 12);
    const std::span<float> from_temporary = v.subview(2);  // a view of a view: no dangling
    CHECK(from_temporary.size() == 10);
    const vector_view<const float> back = s;  // from std::span
    CHECK(back.data() == data.data());
    const std::array<float, 3> arr{1, 2, 3};
    const vector_view<const float> va = arr;
    CHECK(va[2] == 3.0f);
    const vector_view<const float> vc = v;  // mutable → read-only
    CHECK(vc.span().size() == 12);
    const auto deduced = vector_view(std::span<float>(data));
    static_assert(std::is_same_v<std::remove_const_t<decltype(deduced)>, vector_view<float>>);

    aligned_buffer<float> b(4);
    b.view()[1] = 2.0f;
    CHECK(b[1] == 2.0f);
    const std::span<const float> bs = std::as_const(b).view();
    CHECK(bs[1] == 2.0f);
}

TEST_CASE("isolated memory faults outside the space's own functions", "[memory_space]") {
    buffer<float, isolated_space> b(16);
    b.copy_from_host(iota_floats(16));
    const float* p = b.data_handle();
    // A kernel "inside the space" takes the access guard, and may then read and write directly.
    {
        const isolated_space::access guard;
        CHECK(isolated_space::accessible());
        CHECK(p[3] == 4.0f);
        {
            const isolated_space::access nested;
            b.data_handle()[3] = 40.0f;
        }
        CHECK(isolated_space::accessible());  // still open: the outer guard holds
        CHECK(p[3] == 40.0f);
    }
    CHECK_FALSE(isolated_space::accessible());
    // Allocations made inside a guard are reachable at once.
    {
        const isolated_space::access guard;
        const buffer<float, isolated_space> later(std::size_t{1} << 20);
        CHECK(later.data_handle()[(std::size_t{1} << 20) - 1] == 0.0f);
    }

#ifndef _WIN32
    // Host code reading or writing without a guard dies (SIGSEGV; under ASan its report and abort).
    volatile const float* vp = p;
    CHECK(dies([&] { (void)vp[0]; }));
    CHECK(dies([&] { const_cast<volatile float*>(vp)[1] = 0.0f; }));
    // The same read with the guard taken does not (the fork test itself works).
    CHECK_FALSE(dies([&] {
        const isolated_space::access guard;
        (void)vp[0];
    }));
    // Copies that confuse the sides abort.
    std::vector<float> host(16);
    CHECK(dies([&] { isolated_space::copy_from_host(host.data(), b.data_handle(), 64); }));
    CHECK(dies([&] { isolated_space::copy(b.data_handle(), host.data(), 64); }));
    CHECK(dies([&] { isolated_space::copy_to_host(host.data(), b.data_handle(), 65); }));  // past the allocation
    CHECK(dies([&] { isolated_space::deallocate(host.data(), 64, 64); }));
#endif
}

TEST_CASE("the platform layer reports pages and maps memory", "[memory_space]") {
    const std::size_t page = rwkv::platform::page_size();
    CHECK(page >= 4096);
    CHECK(std::has_single_bit(page));
    void* p = rwkv::platform::map_anonymous(2 * page, rwkv::platform::page_access::read_write);
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % page == 0);
    auto* bytes = static_cast<unsigned char*>(p);
    CHECK(bytes[page] == 0);  // fresh anonymous pages are zero
    bytes[0] = 7;
    CHECK(rwkv::platform::protect(p, page, rwkv::platform::page_access::read));
    CHECK(bytes[0] == 7);
#ifndef _WIN32
    CHECK(dies([&] { *static_cast<volatile unsigned char*>(p) = 1; }));
#endif
    rwkv::platform::advise_dont_need(static_cast<unsigned char*>(p) + page, page);
    CHECK(bytes[page] == 0);
    rwkv::platform::unmap(p, 2 * page);
    CHECK(rwkv::platform::open_read_only("/nonexistent/rwkv-memory-space-test") < 0);
}
