// Tests of the checkpoint readers (include/rwkv/io): mapped_file, the zip reader, the restricted
// unpickler, .pth and .safetensors loading, the safetensors writer, and rejection of malformed input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/mapped_file.hpp"
#include "rwkv/io/pickle.hpp"
#include "rwkv/io/safetensors.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/io/zip.hpp"
#include "test_support.hpp"

namespace {

using Catch::Matchers::Contains;
using rwkv::io::tensor_file;

std::span<const std::byte> as_span(const std::string& s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string read_all(const std::filesystem::path& p) {
    const auto v = rwkv_test::read_file_bytes(p);
    return {v.begin(), v.end()};
}

std::filesystem::path golden_v7(const char* suffix) {
    return rwkv_test::data_dir() / (std::string("v7-c128-l2") + suffix);
}

// The message of the exception of type E that f throws; records a failure if f throws nothing or
// something else.
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL_CHECK("threw a different exception: " << e.what());
        return {};
    }
    FAIL_CHECK("did not throw");
    return {};
}

// Loads from memory and reads the first and last byte of every tensor (spans are contiguous, so a
// span reaching outside the buffer trips the address sanitizer).
std::size_t load_and_touch(const std::string& data, const std::string& name) {
    const auto f = tensor_file::from_memory(as_span(data), name);
    std::size_t sum = 0;
    for (const auto& t : f.tensors()) {
        if (t.bytes.empty()) continue;
        sum += std::to_integer<std::size_t>(t.bytes.front()) + std::to_integer<std::size_t>(t.bytes.back());
    }
    return sum;
}

// ---- little-endian writers for hand-built files ---------------------------------------------------
void put16(std::string& s, std::uint64_t v) {
    for (int i = 0; i < 2; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put32(std::string& s, std::uint64_t v) {
    for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put64(std::string& s, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
void set16(std::string& s, std::size_t at, std::uint16_t v) {
    s[at] = static_cast<char>(v & 0xff);
    s[at + 1] = static_cast<char>(v >> 8);
}
void set32(std::string& s, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void set64(std::string& s, std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t get32(const std::string& s, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
    return v;
}

// A zip writer for stored entries (CRCs are left 0: the reader does not check them). With zip64 set,
// every size and offset goes through Zip64 extra fields and the Zip64 EOCD record + locator.
struct zip_builder {
    struct item {
        std::string name, data;
        std::uint16_t method = 0;
    };
    std::vector<item> items;
    bool zip64 = false;

    zip_builder& add(std::string name, std::string data) {
        items.push_back({std::move(name), std::move(data), 0});
        return *this;
    }

    std::string build() const {
        std::string out;
        std::vector<std::uint64_t> offsets;
        for (const auto& it : items) {
            offsets.push_back(out.size());
            put32(out, 0x04034b50);
            put16(out, 20);
            put16(out, 0);
            put16(out, it.method);
            put32(out, 0);  // time, date
            put32(out, 0);  // crc
            put32(out, it.data.size());
            put32(out, it.data.size());
            put16(out, it.name.size());
            put16(out, 0);
            out += it.name;
            out += it.data;
        }
        const std::uint64_t cd_start = out.size();
        for (std::size_t i = 0; i < items.size(); ++i) {
            const auto& it = items[i];
            put32(out, 0x02014b50);
            put16(out, 45);
            put16(out, zip64 ? 45 : 20);
            put16(out, 0);
            put16(out, it.method);
            put32(out, 0);  // time, date
            put32(out, 0);  // crc
            put32(out, zip64 ? 0xffffffffu : it.data.size());
            put32(out, zip64 ? 0xffffffffu : it.data.size());
            put16(out, it.name.size());
            put16(out, zip64 ? 28 : 0);
            put16(out, 0);  // comment
            put16(out, 0);  // disk
            put16(out, 0);  // internal attributes
            put32(out, 0);  // external attributes
            put32(out, zip64 ? 0xffffffffu : offsets[i]);
            out += it.name;
            if (zip64) {
                put16(out, 1);
                put16(out, 24);
                put64(out, it.data.size());
                put64(out, it.data.size());
                put64(out, offsets[i]);
            }
        }
        const std::uint64_t cd_size = out.size() - cd_start;
        if (zip64) {
            const std::uint64_t rec = out.size();
            put32(out, 0x06064b50);
            put64(out, 44);
            put16(out, 45);
            put16(out, 45);
            put32(out, 0);
            put32(out, 0);
            put64(out, items.size());
            put64(out, items.size());
            put64(out, cd_size);
            put64(out, cd_start);
            put32(out, 0x07064b50);
            put32(out, 0);
            put64(out, rec);
            put32(out, 1);
        }
        put32(out, 0x06054b50);
        put16(out, 0);
        put16(out, 0);
        put16(out, zip64 ? 0xffff : items.size());
        put16(out, zip64 ? 0xffff : items.size());
        put32(out, zip64 ? 0xffffffffu : cd_size);
        put32(out, zip64 ? 0xffffffffu : cd_start);
        put16(out, 0);
        return out;
    }
};

// A pickle opcode writer (protocol 2 opcodes, as torch.save emits them).
struct pickle_writer {
    std::string s;
    pickle_writer& op(unsigned char c) {
        s += static_cast<char>(c);
        return *this;
    }
    pickle_writer& proto(unsigned char v = 2) { return op(0x80).op(v); }
    pickle_writer& mark() { return op('('); }
    pickle_writer& str(std::string_view v) {
        op('X');
        put32(s, v.size());
        s += v;
        return *this;
    }
    pickle_writer& global(std::string_view module, std::string_view name) {
        op('c');
        s += module;
        s += '\n';
        s += name;
        s += '\n';
        return *this;
    }
    pickle_writer& integer(std::int64_t v) {
        if (v >= 0 && v < 256) return op('K').op(static_cast<unsigned char>(v));
        if (v >= 0 && v < 65536) {
            op('M');
            put16(s, static_cast<std::uint64_t>(v));
            return *this;
        }
        op('J');
        put32(s, static_cast<std::uint64_t>(v));
        return *this;
    }
    pickle_writer& int_tuple(const std::vector<std::int64_t>& v) {
        mark();
        for (auto x : v) integer(x);
        return op('t');
    }
    pickle_writer& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
};

struct tensor_spec {
    std::string name;
    std::string key;
    std::int64_t storage_numel;
    std::vector<std::int64_t> size, stride;
    std::int64_t offset = 0;
    std::string storage_type = "FloatStorage";
};

// The _rebuild_tensor_v2 call for one tensor, as torch.save writes it.
void write_tensor(pickle_writer& w, const tensor_spec& t) {
    w.global("torch._utils", "_rebuild_tensor_v2").mark();
    w.mark().str("storage").global("torch", t.storage_type).str(t.key).str("cpu").integer(t.storage_numel).op('t');
    w.op('Q');  // BINPERSID
    w.integer(t.offset).int_tuple(t.size).int_tuple(t.stride).op(0x89).ordered_dict();
    w.op('t').op('R');
}

std::string state_dict_pickle(const std::vector<tensor_spec>& tensors) {
    pickle_writer w;
    w.proto().ordered_dict().mark();
    for (const auto& t : tensors) {
        w.str(t.name);
        write_tensor(w, t);
    }
    w.op('u').op('.');
    return w.s;
}

std::string f32_bytes(const std::vector<float>& v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
}

std::vector<float> iota_floats(std::size_t n, float start = 0.0f) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i) * 0.5f;
    return v;
}

// A .pth zip under "archive/" with the given pickle and storages (key → bytes).
std::string make_pth(const std::string& pickle, const std::map<std::string, std::string>& storages,
                     bool zip64 = false) {
    zip_builder z;
    z.zip64 = zip64;
    z.add("archive/data.pkl", pickle);
    for (const auto& [k, v] : storages) z.add("archive/data/" + k, v);
    z.add("archive/byteorder", "little");
    z.add("archive/version", "3\n");
    return z.build();
}

// A safetensors file from a raw JSON header (padded here only if asked) and a data buffer.
std::string make_safetensors(std::string header, const std::string& data, bool pad = true) {
    if (pad) header.append((8 - header.size() % 8) % 8, ' ');
    std::string out;
    put64(out, header.size());
    return out + header + data;
}

// Offset of the central directory header of entry `name` in a zip (scans for the signature).
std::size_t central_header_of(const std::string& zip, const std::string& name) {
    const std::string sig("PK\x01\x02", 4);
    for (std::size_t at = zip.find(sig); at != std::string::npos; at = zip.find(sig, at + 1)) {
        const std::size_t n =
            static_cast<unsigned char>(zip[at + 28]) | (static_cast<unsigned char>(zip[at + 29]) << 8);
        if (zip.compare(at + 46, n, name) == 0 && n == name.size()) return at;
    }
    FAIL("no central directory entry named " << name);
    return 0;
}

}  // namespace

// ---- mapped_file ------------------------------------------------------------------------------------

TEST_CASE("mapped_file maps whole files, wraps memory, and names the path on failure", "[io]") {
    rwkv_test::temp_dir dir;
    const auto path = dir.path / "some.bin";
    const std::string content = "hello, mapped world";
    rwkv_test::write_file_bytes(path, content.data(), content.size());

    auto f = rwkv::io::mapped_file::open(path);
    REQUIRE(f.bytes().size() == content.size());
    CHECK(std::memcmp(f.bytes().data(), content.data(), content.size()) == 0);
    CHECK(f.path() == path);

    const auto* before = f.bytes().data();
    auto moved = std::move(f);
    CHECK(moved.bytes().data() == before);
    CHECK(f.bytes().empty());  // NOLINT(bugprone-use-after-move): a moved-from file is empty

    const auto empty_path = dir.path / "empty.bin";
    rwkv_test::write_file_bytes(empty_path, "", 0);
    CHECK(rwkv::io::mapped_file::open(empty_path).bytes().empty());

    const auto missing = dir.path / "does-not-exist.pth";
    CHECK_THAT(message_of<rwkv::io_error>([&] { (void)rwkv::io::mapped_file::open(missing); }),
               Contains(missing.string()) && Contains("No such file"));
    CHECK_THAT(message_of<rwkv::io_error>([&] { (void)rwkv::io::mapped_file::open(dir.path); }),
               Contains(dir.path.string()) && Contains("not a regular file"));

    const std::string memory = "in memory";
    const auto v = rwkv::io::mapped_file::view(as_span(memory), "asset");
    CHECK(v.bytes().data() == as_span(memory).data());
    CHECK(v.bytes().size() == memory.size());
    CHECK(v.path() == "asset");
}

// ---- the golden checkpoints ---------------------------------------------------------------------------

TEST_CASE("the v7 golden .pth, .bf16.pth and .safetensors list the manifest's tensors", "[io]") {
    const auto pth = tensor_file::open(golden_v7(".pth"));
    const auto bf16 = tensor_file::open(golden_v7(".bf16.pth"));
    const auto st = tensor_file::open(golden_v7(".safetensors"));

    CHECK(pth.format() == "pth");
    CHECK(bf16.format() == "pth");
    CHECK(st.format() == "safetensors");
    CHECK(pth.display_name() == golden_v7(".pth").string());
    for (const auto* f : {&pth, &bf16, &st}) REQUIRE(f->tensors().size() == 72);

    // .pth keeps the state_dict order of the manifest's tensor list.
    CHECK(pth.tensors()[0].name == "emb.weight");
    CHECK(pth.tensors()[1].name == "blocks.0.ln1.weight");
    CHECK(pth.tensors()[7].name == "blocks.0.att.x_r");
    CHECK(pth.tensors()[71].name == "head.weight");
    CHECK(bf16.tensors()[36].name == "blocks.1.ln1.weight");
    // .safetensors is in data-offset order, which for this file is name order.
    for (std::size_t i = 1; i < st.tensors().size(); ++i) CHECK(st.tensors()[i - 1].name < st.tensors()[i].name);

    const std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes = {
        {"emb.weight", {256, 128}},
        {"blocks.0.ln0.bias", {128}},
        {"blocks.0.att.x_r", {1, 1, 128}},
        {"blocks.0.att.w1", {128, 32}},
        {"blocks.0.att.g2", {64, 128}},
        {"blocks.0.att.r_k", {2, 64}},
        {"blocks.1.att.k_a", {1, 1, 128}},
        {"blocks.1.ffn.key.weight", {512, 128}},
        {"blocks.1.ffn.value.weight", {128, 512}},
        {"ln_out.bias", {128}},
        {"head.weight", {256, 128}},
    };
    for (const auto& [name, shape] : shapes) {
        INFO(name);
        for (const auto* f : {&pth, &bf16, &st}) {
            const auto& t = f->require(name);
            CHECK(t.shape == shape);
            CHECK(t.bytes.size() == static_cast<std::size_t>(t.numel()) * rwkv::dtype_size(t.type));
        }
        CHECK(pth.require(name).type == rwkv::dtype::f32);
        CHECK(st.require(name).type == rwkv::dtype::f32);
        CHECK(bf16.require(name).type == rwkv::dtype::bf16);
    }
    CHECK(pth.find("blocks.0.ln0.weight") != nullptr);
    CHECK(pth.find("blocks.1.ln0.weight") == nullptr);  // only block 0 has ln0
    CHECK(pth.find("") == nullptr);
    CHECK_THAT(message_of<rwkv::model_error>([&] { (void)st.require("blocks.9.att.key.weight"); }),
               Contains(golden_v7(".safetensors").string() + ": missing tensor 'blocks.9.att.key.weight'"));

    CHECK(pth.metadata().empty());
    CHECK(st.metadata().at("format") == "pt");
    CHECK(st.metadata().at("rwkv_version") == "7");
    CHECK(st.metadata().at("n_embd") == "128");
    CHECK(st.metadata().at("n_layer") == "2");
    CHECK(st.metadata().at("vocab_size") == "256");
}

TEST_CASE("the v7 .pth and .safetensors hold identical f32 bytes", "[io]") {
    const auto pth = tensor_file::open(golden_v7(".pth"));
    const auto st = tensor_file::open(golden_v7(".safetensors"));
    std::size_t total = 0;
    for (const auto& t : pth.tensors()) {
        INFO(t.name);
        const auto* u = st.find(t.name);
        REQUIRE(u != nullptr);
        CHECK(u->shape == t.shape);
        REQUIRE(u->bytes.size() == t.bytes.size());
        CHECK(std::memcmp(u->bytes.data(), t.bytes.data(), t.bytes.size()) == 0);
        total += static_cast<std::size_t>(t.numel());
    }
    CHECK(total == 546048);  // the manifest's parameter count
}

TEST_CASE("the v7 .bf16.pth holds the f32 weights rounded to bf16", "[io]") {
    const auto f32 = tensor_file::open(golden_v7(".pth"));
    const auto bf16 = tensor_file::open(golden_v7(".bf16.pth"));
    for (const auto& t : f32.tensors()) {
        INFO(t.name);
        const auto& b = bf16.require(t.name);
        REQUIRE(b.type == rwkv::dtype::bf16);
        REQUIRE(b.numel() == t.numel());
        std::size_t mismatches = 0;
        for (std::int64_t i = 0; i < t.numel(); ++i) {
            float x;
            std::uint16_t bits;
            std::memcpy(&x, t.bytes.data() + 4 * i, 4);
            std::memcpy(&bits, b.bytes.data() + 2 * i, 2);
            if (rwkv::bf16::from_float(x).bits != bits) ++mismatches;
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("tensor spans stay valid when the tensor_file is moved", "[io]") {
    auto a = tensor_file::open(golden_v7(".pth"));
    const auto* data = a.require("head.weight").bytes.data();
    std::vector<tensor_file> files;
    files.push_back(std::move(a));
    tensor_file b = std::move(files.back());
    files.clear();
    CHECK(b.require("head.weight").bytes.data() == data);
    CHECK(b.tensors().size() == 72);
    CHECK(b.find("emb.weight") == &b.tensors()[0]);
}

TEST_CASE("every shared golden checkpoint opens, and each .pth matches its .safetensors", "[io]") {
    const auto dir = rwkv_test::shared_golden_dir();
    if (dir.empty()) {
        WARN("shared golden directory not found; skipping");
        return;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const auto ext = e.path().extension();
        if (ext == ".pth" || ext == ".safetensors") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    CHECK(files.size() >= 10);
    for (const auto& p : files) {
        INFO(p.string());
        const auto f = tensor_file::open(p);
        CHECK(!f.tensors().empty());
        if (p.extension() != ".pth") continue;
        auto twin = p;
        twin.replace_extension(".safetensors");
        if (!std::filesystem::exists(twin)) continue;
        const auto g = tensor_file::open(twin);
        CHECK(g.tensors().size() == f.tensors().size());
        for (const auto& t : f.tensors()) {
            INFO(t.name);
            const auto* u = g.find(t.name);
            REQUIRE(u != nullptr);
            CHECK(u->type == t.type);
            CHECK(u->shape == t.shape);
            REQUIRE(u->bytes.size() == t.bytes.size());
            CHECK(std::memcmp(u->bytes.data(), t.bytes.data(), t.bytes.size()) == 0);
        }
    }

    // GoldFinch's state_dict is a plain dict (EMPTY_DICT), not an OrderedDict.
    const auto goldfinch = dir / "goldfinch-c128-l3.pth";
    if (std::filesystem::exists(goldfinch)) {
        const auto g = tensor_file::open(goldfinch);
        CHECK(g.tensors().size() == 98);
        CHECK(g.tensors().front().name == "emb.weight");
        CHECK(g.require("emb.weight").shape == std::vector<std::int64_t>{256, 128});
    }
}

// ---- safetensors writer ------------------------------------------------------------------------------

TEST_CASE("write_safetensors round-trips f32, bf16, f16, scalars, 3-D shapes and metadata", "[io]") {
    rwkv_test::temp_dir dir;
    const auto path = dir.path / "out.safetensors";

    const auto w = iota_floats(2 * 3 * 4, -3.0f);
    std::vector<std::uint16_t> b16(5), h16(6);
    for (std::size_t i = 0; i < b16.size(); ++i) b16[i] = rwkv::bf16::from_float(static_cast<float>(i) - 2.5f).bits;
    for (std::size_t i = 0; i < h16.size(); ++i) h16[i] = rwkv::f16::from_float(0.25f * static_cast<float>(i)).bits;
    const float scalar = 42.5f;
    const std::vector<rwkv::io::tensor_to_write> tensors = {
        {"z.weight", rwkv::dtype::f32, {2, 3, 4}, std::as_bytes(std::span(w))},
        {"a.scalar", rwkv::dtype::f32, {}, std::as_bytes(std::span(&scalar, 1))},
        {"m.bf16", rwkv::dtype::bf16, {5}, std::as_bytes(std::span(b16))},
        {"m.f16", rwkv::dtype::f16, {1, 1, 6}, std::as_bytes(std::span(h16))},
        {"e.empty", rwkv::dtype::f32, {0, 7}, {}},
    };
    const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "round \"trip\" ✓"}};
    rwkv::io::write_safetensors(path, tensors, meta);
    rwkv::io::write_safetensors(path, tensors, meta);  // overwriting an existing file works too

    // Only the file itself is left in the directory: no temporaries.
    std::size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
        (void)e;
        ++entries;
    }
    CHECK(entries == 1);

    const std::string raw = read_all(path);
    REQUIRE(raw.size() >= 8);
    std::uint64_t n = 0;
    std::memcpy(&n, raw.data(), 8);
    CHECK(n % 8 == 0);
    CHECK(raw.compare(8, 16, "{\"__metadata__\":") == 0);

    const auto f = tensor_file::open(path);
    CHECK(f.format() == "safetensors");
    CHECK(f.metadata().size() == 2);
    CHECK(f.metadata().at("note") == "round \"trip\" ✓");
    REQUIRE(f.tensors().size() == 5);
    // Sorted by name and packed back to back, so offset order is name order.
    const std::vector<std::string> order = {"a.scalar", "e.empty", "m.bf16", "m.f16", "z.weight"};
    for (std::size_t i = 0; i < order.size(); ++i) CHECK(f.tensors()[i].name == order[i]);
    for (const auto& t : tensors) {
        INFO(t.name);
        const auto& u = f.require(t.name);
        CHECK(u.type == t.type);
        CHECK(u.shape == t.shape);
        REQUIRE(u.bytes.size() == t.bytes.size());
        CHECK(std::equal(u.bytes.begin(), u.bytes.end(), t.bytes.begin()));
    }
    CHECK(f.require("a.scalar").numel() == 1);
    CHECK(f.require("e.empty").numel() == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(f.require("a.scalar").bytes.data()) % 8 == 0);  // data starts 8-aligned

    // Without metadata, there is no __metadata__ entry at all.
    rwkv::io::write_safetensors(path, std::span(tensors).first(1), {});
    CHECK(read_all(path).find("__metadata__") == std::string::npos);
    CHECK(tensor_file::open(path).metadata().empty());
}

TEST_CASE("write_safetensors reproduces the golden file's tensors and data buffer", "[io]") {
    const auto golden = tensor_file::open(golden_v7(".safetensors"));
    std::vector<rwkv::io::tensor_to_write> tensors;
    for (const auto& t : golden.tensors()) tensors.push_back({t.name, t.type, t.shape, t.bytes});
    const std::map<std::string, std::string> meta(golden.metadata().begin(), golden.metadata().end());
    rwkv_test::temp_dir dir;
    const auto path = dir.path / "copy.safetensors";
    rwkv::io::write_safetensors(path, tensors, meta);

    const auto copy = tensor_file::open(path);
    REQUIRE(copy.tensors().size() == golden.tensors().size());
    CHECK(copy.metadata() == golden.metadata());
    const std::string a = read_all(golden_v7(".safetensors"));
    const std::string b = read_all(path);
    const std::size_t data_bytes = 546048 * 4;
    REQUIRE(a.size() >= data_bytes);
    REQUIRE(b.size() >= data_bytes);
    CHECK(a.compare(a.size() - data_bytes, data_bytes, b, b.size() - data_bytes, data_bytes) == 0);
}

TEST_CASE("write_safetensors rejects inconsistent tensors and unwritable paths", "[io]") {
    rwkv_test::temp_dir dir;
    const auto path = dir.path / "bad.safetensors";
    const std::vector<float> v = {1, 2, 3, 4};
    const auto bytes = std::as_bytes(std::span(v));
    using tw = rwkv::io::tensor_to_write;

    const std::vector<tw> wrong_size = {{"w", rwkv::dtype::f32, {3}, bytes}};
    CHECK_THAT(message_of<rwkv::invalid_argument>([&] { rwkv::io::write_safetensors(path, wrong_size, {}); }),
               Contains(path.string()) && Contains("'w'") && Contains("16 bytes") && Contains("need 12"));
    const std::vector<tw> wrong_dtype = {{"w", rwkv::dtype::bf16, {4}, bytes}};
    CHECK_THROWS_AS(rwkv::io::write_safetensors(path, wrong_dtype, {}), rwkv::invalid_argument);
    const std::vector<tw> negative = {{"w", rwkv::dtype::f32, {-4}, bytes}};
    CHECK_THROWS_AS(rwkv::io::write_safetensors(path, negative, {}), rwkv::invalid_argument);
    const std::vector<tw> twice = {{"w", rwkv::dtype::f32, {4}, bytes}, {"w", rwkv::dtype::f32, {2, 2}, bytes}};
    CHECK_THAT(message_of<rwkv::invalid_argument>([&] { rwkv::io::write_safetensors(path, twice, {}); }),
               Contains("'w' is given twice"));
    const std::vector<tw> reserved = {{"__metadata__", rwkv::dtype::f32, {4}, bytes}};
    CHECK_THROWS_AS(rwkv::io::write_safetensors(path, reserved, {}), rwkv::invalid_argument);
    CHECK(!std::filesystem::exists(path));

    const std::vector<tw> ok = {{"w", rwkv::dtype::f32, {4}, bytes}};
    const auto nowhere = dir.path / "no-such-dir" / "x.safetensors";
    CHECK_THAT(message_of<rwkv::io_error>([&] { rwkv::io::write_safetensors(nowhere, ok, {}); }),
               Contains(nowhere.string()));
    // The target is a directory: the rename fails and the temporary is removed.
    const auto is_dir = dir.path / "taken";
    std::filesystem::create_directories(is_dir / "inner");
    CHECK_THROWS_AS(rwkv::io::write_safetensors(is_dir, ok, {}), rwkv::io_error);
    std::size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
        (void)e;
        ++entries;
    }
    CHECK(entries == 1);  // only "taken"
}

// ---- format detection --------------------------------------------------------------------------------

TEST_CASE("files that are neither .pth nor .safetensors are rejected by content", "[io]") {
    rwkv_test::temp_dir dir;
    const auto empty = dir.path / "empty.pth";
    rwkv_test::write_file_bytes(empty, "", 0);
    CHECK_THAT(
        message_of<rwkv::format_error>([&] { (void)tensor_file::open(empty); }),
        Contains(empty.string() + ": not a PyTorch checkpoint (.pth zip) or a .safetensors file") && Contains("empty"));

    std::mt19937 rng(7);
    std::string noise(4096, '\0');
    for (auto& c : noise) c = static_cast<char>(rng() & 0xff);
    noise[8] = 'x';
    CHECK_THAT(message_of<rwkv::format_error>([&] { (void)tensor_file::from_memory(as_span(noise), "noise.bin"); }),
               Contains("noise.bin: not a PyTorch checkpoint (.pth zip) or a .safetensors file"));

    // A .safetensors name does not make a file safetensors, nor does a .pth name make it a zip.
    const std::string text = "just some text, definitely not a model";
    CHECK_THROWS_AS(tensor_file::from_memory(as_span(text), "model.safetensors"), rwkv::format_error);

    // The pre-1.6 torch.save format (a bare pickle) gets a specific hint.
    const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
    CHECK_THAT(message_of<rwkv::format_error>([&] { (void)tensor_file::from_memory(as_span(legacy), "old.pth"); }),
               Contains("old.pth") && Contains("legacy"));
}

TEST_CASE("a .safetensors golden file is detected by content whatever its name", "[io]") {
    const std::string st = read_all(golden_v7(".safetensors"));
    const std::string pth = read_all(golden_v7(".pth"));
    CHECK(tensor_file::from_memory(as_span(st), "renamed.pth").format() == "safetensors");
    CHECK(tensor_file::from_memory(as_span(pth), "renamed.safetensors").format() == "pth");
}

// ---- truncation --------------------------------------------------------------------------------------

TEST_CASE("truncated .pth and .safetensors files are rejected with the file name", "[io]") {
    for (const char* suffix : {".pth", ".bf16.pth", ".safetensors"}) {
        const std::string full = read_all(golden_v7(suffix));
        std::vector<std::size_t> cuts;
        for (std::size_t k = 0; k < 16; ++k) cuts.push_back(full.size() * k / 16);
        for (std::size_t back : {1, 2, 10, 21, 22, 23, 42, 98, 100}) cuts.push_back(full.size() - back);
        for (std::size_t front : {1, 4, 8, 9, 30, 100}) cuts.push_back(front);
        for (const auto cut : cuts) {
            INFO(suffix << " cut at " << cut << " of " << full.size());
            const std::string part = full.substr(0, cut);
            const std::string name = std::string("cut") + suffix;
            CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(part, name); }), Contains(name + ": "));
        }
    }
}

// ---- safetensors header validation ------------------------------------------------------------------------

TEST_CASE("malformed safetensors headers are rejected with what was expected and found", "[io]") {
    const std::string data(64, '\x01');
    auto load = [&](const std::string& header, const std::string& buffer) {
        return load_and_touch(make_safetensors(header, buffer), "bad.safetensors");
    };
    auto format_msg = [&](const std::string& header, const std::string& buffer = std::string(64, '\x01')) {
        return message_of<rwkv::format_error>([&] { load(header, buffer); });
    };

    // A valid baseline.
    CHECK_NOTHROW(load(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", data));

    SECTION("header length beyond the file") {
        std::string file = make_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "abcd");
        set64(file, 0, file.size());
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(file, "long.safetensors"); }),
                   Contains("long.safetensors: safetensors header length") && Contains("exceeds"));
        set64(file, 0, 200'000'000);
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(file, "huge.safetensors"); }),
                   Contains("huge.safetensors") && Contains("limit"));
        set64(file, 0, ~std::uint64_t{0});
        CHECK_THROWS_AS(load_and_touch(file, "max.safetensors"), rwkv::format_error);
    }
    SECTION("unsupported dtypes") {
        for (const char* dt : {"F64", "I64", "I16", "BOOL", "F8_E4M3", "I32"}) {
            const std::string h = std::string(R"({"w":{"dtype":")") + dt + R"(","shape":[2],"data_offsets":[0,8]}})";
            CHECK_THAT(message_of<rwkv::unsupported_error>([&] { load(h, data); }),
                       Contains("bad.safetensors: tensor 'w' has dtype " + std::string(dt)));
        }
    }
    SECTION("offsets out of range, reversed or overlapping") {
        CHECK_THAT(format_msg(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[56,72]}})"),
                   Contains("bad.safetensors: tensor 'a'") && Contains("[56, 72)") && Contains("64"));
        CHECK_THAT(format_msg(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})"), Contains("begin <= end"));
        CHECK_THAT(format_msg(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                              R"("b":{"dtype":"F32","shape":[4],"data_offsets":[12,28]}})"),
                   Contains("'a' [0, 16) and 'b' [12, 28) overlap"));
        CHECK_THAT(format_msg(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                              R"("b":{"dtype":"F16","shape":[8],"data_offsets":[0,16]}})"),
                   Contains("overlap"));
        // Empty tensors overlap nothing.
        CHECK_NOTHROW(load(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                           R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]}})",
                           data));
        CHECK_THAT(format_msg(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})"), Contains("data_offsets"));
        CHECK_THAT(format_msg(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,-16]}})"), Contains("data_offsets"));
    }
    SECTION("shape and offsets disagree, or the shape is malformed") {
        CHECK_THAT(format_msg(R"({"w":{"dtype":"BF16","shape":[3,5],"data_offsets":[0,32]}})"),
                   Contains("tensor 'w'") && Contains("[3,5]") && Contains("needs 30 bytes") && Contains("hold 32"));
        CHECK_THAT(format_msg(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})"),
                   Contains("non-negative integers") && Contains("-1"));
        CHECK_THAT(format_msg(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})"), Contains("1.5"));
        CHECK_THAT(format_msg(R"({"w":{"dtype":"F32","shape":"4","data_offsets":[0,16]}})"), Contains("'shape'"));
        CHECK_THAT(format_msg(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})"),
                   Contains("64 bits"));
        CHECK_THAT(format_msg(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}})"),
                   Contains("64 bits"));
        CHECK_THAT(format_msg(R"({"w":{"shape":[1],"data_offsets":[0,4]}})"), Contains("'dtype'"));
        CHECK_THAT(format_msg(R"({"w":[1,2,3]})"), Contains("tensor 'w'") && Contains("array"));
    }
    SECTION("the header itself is malformed") {
        CHECK_THAT(format_msg(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), Contains("not valid JSON"));
        CHECK_THAT(format_msg("{\"w\xff\":{}}"), Contains("not valid JSON"));
        CHECK_THAT(format_msg(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})"),
                   Contains("two entries named 'a'"));
        CHECK_THAT(format_msg(R"({"__metadata__":{"n":1}})"), Contains("__metadata__") && Contains("'n'"));
        CHECK_THAT(format_msg(R"({"__metadata__":["x"]})"), Contains("__metadata__"));
        CHECK_THAT(format_msg("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}"), Contains("deeper"));
        // A header that does not start with '{' (here after a valid length) is not safetensors at all.
        CHECK_THROWS_AS(load(R"(["a"])", data), rwkv::format_error);
    }
}

// ---- zip container --------------------------------------------------------------------------------

TEST_CASE("compressed zip entries are refused with a re-save hint", "[io]") {
    const std::string golden = read_all(golden_v7(".pth"));
    SECTION("data.pkl deflated") {
        std::string z = golden;
        const auto cd = central_header_of(z, "v7-c128-l2/data.pkl");
        set16(z, cd + 10, 8);
        const std::size_t local = get32(z, cd + 42);
        set16(z, local + 8, 8);
        CHECK_THAT(message_of<rwkv::unsupported_error>([&] { load_and_touch(z, "deflated.pth"); }),
                   Contains("deflated.pth: zip entry 'v7-c128-l2/data.pkl' is compressed (method 8 = deflate); only "
                            "stored entries are supported — re-save with torch.save (it stores entries uncompressed)"));
    }
    SECTION("a storage entry compressed in the central directory only") {
        std::string z = golden;
        const auto cd = central_header_of(z, "v7-c128-l2/data/3");
        set16(z, cd + 10, 14);
        CHECK_THAT(message_of<rwkv::unsupported_error>([&] { load_and_touch(z, "lzma.pth"); }),
                   Contains("lzma.pth: zip entry 'v7-c128-l2/data/3' is compressed (method 14 = lzma)"));
    }
    SECTION("a storage entry compressed in its local header only") {
        std::string z = golden;
        const auto cd = central_header_of(z, "v7-c128-l2/data/5");
        set16(z, get32(z, cd + 42) + 8, 8);
        CHECK_THAT(message_of<rwkv::unsupported_error>([&] { load_and_touch(z, "local.pth"); }),
                   Contains("local.pth: zip entry 'v7-c128-l2/data/5' is compressed (method 8 = deflate"));
    }
}

TEST_CASE("zip64 records and extra fields are honoured", "[io]") {
    const auto w = iota_floats(12);
    const std::string pickle = state_dict_pickle({{"w", "0", 12, {3, 4}, {4, 1}}});
    for (bool zip64 : {false, true}) {
        INFO("zip64 " << zip64);
        const std::string file = make_pth(pickle, {{"0", f32_bytes(w)}}, zip64);
        const auto f = tensor_file::from_memory(as_span(file), "z.pth");
        REQUIRE(f.tensors().size() == 1);
        CHECK(f.require("w").shape == std::vector<std::int64_t>{3, 4});
        REQUIRE(f.require("w").bytes.size() == 48);
        CHECK(std::memcmp(f.require("w").bytes.data(), w.data(), 48) == 0);

        rwkv::io::zip_reader zip(as_span(file), "z.pth");
        CHECK(zip.entries().size() == 4);
        CHECK(zip.find("archive/data/0") != nullptr);
        CHECK(zip.find("archive/data/1") == nullptr);
    }
}

TEST_CASE("corrupt zip directories are rejected", "[io]") {
    const std::string pickle = state_dict_pickle({{"w", "0", 2, {2}, {1}}});
    const std::string good = make_pth(pickle, {{"0", f32_bytes({1, 2})}});
    const std::string good64 = make_pth(pickle, {{"0", f32_bytes({1, 2})}}, true);
    const std::size_t eocd = good.size() - 22;
    CHECK_NOTHROW(load_and_touch(good, "z.pth"));

    SECTION("central directory outside the file") {
        std::string z = good;
        set32(z, eocd + 16, static_cast<std::uint32_t>(z.size()));
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z, "z.pth"); }),
                   Contains("z.pth: zip central directory") && Contains("outside the file"));
    }
    SECTION("more entries than the directory can hold") {
        std::string z = good;
        set16(z, eocd + 8, 0xfff0);
        set16(z, eocd + 10, 0xfff0);
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z, "z.pth"); }), Contains("cannot hold"));
    }
    SECTION("zip64 entry count beyond the limit") {
        std::string z = good64;
        const std::size_t rec = good64.size() - 22 - 20 - 56;
        set64(z, rec + 24, 2'000'000);
        set64(z, rec + 32, 2'000'000);
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z, "z.pth"); }), Contains("at most 1000000"));
    }
    SECTION("zip64 local header offset beyond the file") {
        std::string z = good64;
        const auto cd = central_header_of(z, "archive/data/0");
        set64(z, cd + 46 + 14 + 4 + 16, 0xffffffffffffull);
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z, "z.pth"); }),
                   Contains("'archive/data/0'") && Contains("past the end"));
    }
    SECTION("zip64 size that runs past the file") {
        std::string z = good64;
        const auto cd = central_header_of(z, "archive/data/0");
        set64(z, cd + 46 + 14 + 4, 0xfffffffffffffff0ull);
        set64(z, cd + 46 + 14 + 4 + 8, 0xfffffffffffffff0ull);
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z, "z.pth"); }), Contains("past the end"));
    }
    SECTION("zip64 extra field missing") {
        std::string z = good64;
        const auto cd = central_header_of(z, "archive/data/0");
        set16(z, cd + 46 + 14, 0x5455);  // rename the zip64 extra field to another header id
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z, "z.pth"); }),
                   Contains("zip64 extended information"));
    }
    SECTION("a local header that is not one") {
        std::string z = good;
        const auto cd = central_header_of(z, "archive/data/0");
        z[get32(z, cd + 42)] = 'X';
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z, "z.pth"); }),
                   Contains("local header signature"));
    }
    SECTION("duplicate entry names") {
        zip_builder b;
        b.add("archive/data.pkl", pickle)
            .add("archive/data/0", f32_bytes({1, 2}))
            .add("archive/data/0", f32_bytes({3, 4}));
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(b.build(), "dup.pth"); }),
                   Contains("dup.pth") && Contains("two entries named 'archive/data/0'"));
    }
    SECTION("missing end of central directory") {
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(good.substr(0, good.size() - 22), "z.pth"); }),
                   Contains("no end of central directory"));
    }
}

// ---- .pth contents ------------------------------------------------------------------------------------

TEST_CASE("hand-built state_dicts load: dtypes, offsets into shared storages, scalars, any prefix", "[io]") {
    const auto w = iota_floats(24);
    std::vector<std::uint16_t> b(6), h(4);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = rwkv::bf16::from_float(static_cast<float>(i)).bits;
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = rwkv::f16::from_float(static_cast<float>(i) + 0.5f).bits;
    std::string bb(12, '\0'), hb(8, '\0');
    std::memcpy(bb.data(), b.data(), 12);
    std::memcpy(hb.data(), h.data(), 8);

    const std::string pickle = state_dict_pickle({
        {"first", "0", 24, {2, 3}, {3, 1}},
        {"second", "0", 24, {1, 1, 6}, {99, 7, 1}, 6},  // size-1 dims may have any stride
        {"tail", "0", 24, {12}, {1}, 12},
        {"scalar", "0", 24, {}, {}, 23},
        {"empty", "0", 24, {0, 5}, {7, 3}},
        {"brain", "b", 6, {6}, {1}, 0, "BFloat16Storage"},
        {"half", "h", 4, {2, 2}, {2, 1}, 0, "HalfStorage"},
    });
    zip_builder z;
    z.add("some/deeper name/data.pkl", pickle)
        .add("some/deeper name/data/0", f32_bytes(w))
        .add("some/deeper name/data/b", bb)
        .add("some/deeper name/data/h", hb)
        .add("some/deeper name/.data/serialization_id", "1234");
    const std::string file = z.build();
    const auto f = tensor_file::from_memory(as_span(file), "hand.pth");
    REQUIRE(f.tensors().size() == 7);
    CHECK(f.tensors()[0].name == "first");  // pickle order, not name order
    CHECK(f.tensors()[6].name == "half");

    auto floats = [](const rwkv::io::tensor_entry& t) {
        std::vector<float> v(t.bytes.size() / 4);
        std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
        return v;
    };
    CHECK(floats(f.require("first")) == std::vector<float>(w.begin(), w.begin() + 6));
    CHECK(floats(f.require("second")) == std::vector<float>(w.begin() + 6, w.begin() + 12));
    CHECK(f.require("second").shape == std::vector<std::int64_t>{1, 1, 6});
    CHECK(floats(f.require("tail")) == std::vector<float>(w.begin() + 12, w.end()));
    CHECK(f.require("scalar").shape.empty());
    CHECK(f.require("scalar").numel() == 1);
    CHECK(floats(f.require("scalar")) == std::vector<float>{w[23]});
    CHECK(f.require("empty").bytes.empty());
    CHECK(f.require("brain").type == rwkv::dtype::bf16);
    CHECK(std::memcmp(f.require("brain").bytes.data(), b.data(), 12) == 0);
    CHECK(f.require("half").type == rwkv::dtype::f16);
    CHECK(std::memcmp(f.require("half").bytes.data(), h.data(), 8) == 0);
    // The spans point into the caller's buffer: no copies.
    const auto* base = reinterpret_cast<const std::byte*>(file.data());
    for (const auto& t : f.tensors()) {
        if (t.bytes.empty()) continue;
        CHECK(t.bytes.data() >= base);
        CHECK(t.bytes.data() + t.bytes.size() <= base + file.size());
    }
}

TEST_CASE("other pickle shapes torch produces are understood", "[io]") {
    const auto w = iota_floats(4);
    const std::map<std::string, std::string> storage = {{"0", f32_bytes(w)}};

    SECTION("protocol 4 framing, short strings, MEMOIZE and STACK_GLOBAL") {
        pickle_writer p;
        p.proto(4).op(0x95);
        put64(p.s, 0);       // the frame length is not checked against the content
        p.op('}').op(0x94);  // EMPTY_DICT, MEMOIZE
        p.op(0x8c).op(1).s += "w";
        p.op(0x8c).op(12).s += "torch._utils";
        p.op(0x8c).op(18).s += "_rebuild_tensor_v2";
        p.op(0x93).op(0x94).mark();
        p.mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(4).op('t').op('Q');
        p.op('K').op(0).int_tuple({4}).int_tuple({1}).op(0x88).op('}').op('N');  // 7 args, metadata None
        p.op('t').op('R').op('s').op('.');
        const auto f = tensor_file::from_memory(as_span(make_pth(p.s, storage)), "p4.pth");
        REQUIRE(f.tensors().size() == 1);
        CHECK(f.require("w").numel() == 4);
    }
    SECTION("state_dict attributes via BUILD, a parameter, memo reuse and LONG1 ints") {
        pickle_writer p;
        p.proto().ordered_dict().op('q').op(0).mark();
        p.str("param").global("torch._utils", "_rebuild_parameter").mark();
        write_tensor(p, {"", "0", 4, {2, 2}, {2, 1}});
        p.op('q').op(1);  // remember the tensor
        p.op(0x88).ordered_dict().op('t').op('R');
        p.str("alias").op('h').op(1);  // the same tensor under a second name
        p.str("long");
        p.global("torch._utils", "_rebuild_tensor").mark();
        p.mark()
            .str("storage")
            .global("torch", "FloatStorage")
            .str("0")
            .str("cpu")
            .op(0x8a)
            .op(1)
            .op(4)
            .op('t')
            .op('Q');
        p.op(0x8a).op(0).mark().op(0x8a).op(2).op(4).op(0).op('t').mark().op(0x8a).op(1).op(1).op('t');
        p.op('t').op('R');
        p.op('u');
        // BUILD with the _metadata attribute dict, as pickling model.state_dict() produces.
        p.op('}')
            .str("_metadata")
            .ordered_dict()
            .str("")
            .op('}')
            .str("version")
            .integer(1)
            .op('s')
            .op('s')
            .op('s')
            .op('b');
        p.op('.');
        const auto f = tensor_file::from_memory(as_span(make_pth(p.s, storage)), "build.pth");
        REQUIRE(f.tensors().size() == 3);
        CHECK(f.require("param").shape == std::vector<std::int64_t>{2, 2});
        CHECK(f.require("alias").bytes.data() == f.require("param").bytes.data());
        CHECK(f.require("long").shape == std::vector<std::int64_t>{4});
    }
    SECTION("a plain dict built with DICT") {
        pickle_writer p;
        p.proto().mark().str("w");
        write_tensor(p, {"", "0", 4, {4}, {1}});
        p.op('d').op('.');
        CHECK(tensor_file::from_memory(as_span(make_pth(p.s, storage)), "dict.pth").tensors().size() == 1);
    }
    SECTION("an empty state_dict") {
        pickle_writer p;
        p.proto().op('}').op('.');
        CHECK(tensor_file::from_memory(as_span(make_pth(p.s, {})), "nothing.pth").tensors().empty());
    }
}

TEST_CASE("forbidden or malformed pickles are rejected, never executed", "[io]") {
    const auto w = iota_floats(8);
    const std::map<std::string, std::string> storage = {{"0", f32_bytes(w)}};
    auto msg_for = [&](const std::string& pickle, const std::map<std::string, std::string>& st) {
        return message_of<rwkv::format_error>([&] { load_and_touch(make_pth(pickle, st), "evil.pth"); });
    };
    auto ok_prefix = [] {
        pickle_writer p;
        p.proto().ordered_dict().mark().str("w");
        return p;
    };

    SECTION("GLOBAL os.system then REDUCE") {
        pickle_writer p;
        p.proto().global("os", "system").mark().str("echo pwned").op('t').op('R').op('.');
        CHECK_THAT(msg_for(p.s, storage),
                   Contains("evil.pth: pickle references forbidden global 'os.system'; only torch tensor rebuild "
                            "functions and storage types are allowed"));
    }
    SECTION("builtins.eval through STACK_GLOBAL") {
        pickle_writer p;
        p.proto(4).op(0x8c).op(8).s += "builtins";
        p.op(0x8c).op(4).s += "eval";
        p.op(0x93).op('.');
        CHECK_THAT(msg_for(p.s, storage), Contains("forbidden global 'builtins.eval'"));
    }
    SECTION("a torch function that is not a rebuild function") {
        pickle_writer p;
        p.proto().global("torch", "load").op('.');
        CHECK_THAT(msg_for(p.s, storage), Contains("forbidden global 'torch.load'"));
    }
    SECTION("unknown opcodes") {
        for (const unsigned char op : std::initializer_list<unsigned char>{0xff, 'i', 'o', 'P', 'I', 0x82, '0'}) {
            pickle_writer p = ok_prefix();
            const std::size_t at = p.s.size();
            p.op(op).s += "\n\n\n\n\n\n\n\n";
            INFO("opcode " << int(op));
            CHECK_THAT(msg_for(p.s, storage),
                       Contains("evil.pth: unsupported pickle opcode " + rwkv::io::detail::hex_byte(op) +
                                " at offset " + std::to_string(at)));
        }
    }
    SECTION("a non-contiguous tensor") {
        const std::string pickle = state_dict_pickle({{"blocks.0.att.key.weight", "0", 8, {2, 4}, {1, 2}}});
        CHECK_THAT(
            message_of<rwkv::unsupported_error>([&] { load_and_touch(make_pth(pickle, storage), "evil.pth"); }),
            Contains("evil.pth: tensor 'blocks.0.att.key.weight' is not contiguous (size [2, 4], stride [1, 2])"));
    }
    SECTION("a tensor that needs more than its storage holds") {
        CHECK_THAT(msg_for(state_dict_pickle({{"w", "0", 8, {3, 3}, {3, 1}}}), storage),
                   Contains("tensor 'w'") && Contains("needs 9 elements") && Contains("holds 8"));
        CHECK_THAT(msg_for(state_dict_pickle({{"w", "0", 8, {4}, {1}, 5}}), storage),
                   Contains("starting at element 5"));
        // The persistent id claims more elements than the zip entry has bytes for.
        CHECK_THAT(msg_for(state_dict_pickle({{"w", "0", 16, {16}, {1}}}), storage),
                   Contains("declares 16 f32 elements") && Contains("holds 32 bytes"));
        CHECK_THAT(msg_for(state_dict_pickle({{"w", "0", 8, {4}, {1}, 0x7fffffff}}), storage), Contains("tensor 'w'"));
    }
    SECTION("a storage entry that is missing") {
        CHECK_THAT(msg_for(state_dict_pickle({{"w", "7", 8, {8}, {1}}}), storage),
                   Contains("tensor 'w'") && Contains("'archive/data/7'") && Contains("missing"));
    }
    SECTION("no data.pkl, or two of them") {
        zip_builder z;
        z.add("archive/data/0", f32_bytes(w)).add("archive/version", "3\n");
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z.build(), "nopickle.pth"); }),
                   Contains("nopickle.pth") && Contains("no data.pkl"));
        z.add("a/data.pkl", ".").add("b/data.pkl", ".");
        CHECK_THAT(message_of<rwkv::format_error>([&] { load_and_touch(z.build(), "two.pth"); }),
                   Contains("two pickles"));
    }
    SECTION("the top level is not a dict of tensors") {
        pickle_writer list;
        list.proto().op(']').op('.');
        CHECK_THAT(msg_for(list.s, storage), Contains("top-level object is a list"));
        pickle_writer nested;
        nested.proto().op('}').str("state_dict").op('}').op('s').op('.');
        CHECK_THAT(msg_for(nested.s, storage), Contains("entry 'state_dict' is a dict, expected a tensor"));
        pickle_writer intkey;
        intkey.proto().op('}').integer(3).op('N').op('s').op('.');
        CHECK_THAT(msg_for(intkey.s, storage), Contains("key of type int"));
        pickle_writer twice = ok_prefix();
        write_tensor(twice, {"", "0", 8, {8}, {1}});
        twice.str("w");
        write_tensor(twice, {"", "0", 8, {8}, {1}});
        twice.op('u').op('.');
        CHECK_THAT(msg_for(twice.s, storage), Contains("two entries named 'w'"));
    }
    SECTION("storage types we do not support, and big-endian files") {
        const std::string pickle = state_dict_pickle({{"w", "0", 4, {4}, {1}, 0, "DoubleStorage"}});
        CHECK_THAT(message_of<rwkv::unsupported_error>([&] { load_and_touch(make_pth(pickle, storage), "f64.pth"); }),
                   Contains("f64.pth") && Contains("torch.DoubleStorage"));
        zip_builder z;
        z.add("archive/data.pkl", state_dict_pickle({{"w", "0", 8, {8}, {1}}}))
            .add("archive/data/0", f32_bytes(w))
            .add("archive/byteorder", "big");
        CHECK_THAT(message_of<rwkv::unsupported_error>([&] { load_and_touch(z.build(), "be.pth"); }),
                   Contains("be.pth") && Contains("big-endian"));
    }
    SECTION("broken machine states") {
        pickle_writer p;
        p.proto(6);
        CHECK_THAT(msg_for(p.s + ".", storage), Contains("protocol 6"));
        CHECK_THAT(msg_for(ok_prefix().s, storage), Contains("without a STOP"));
        pickle_writer under;
        under.proto().op('R');
        CHECK_THAT(msg_for(under.s, storage), Contains("stack underflow"));
        pickle_writer below_mark;
        below_mark.proto().op('}').mark().op('.');
        CHECK_THAT(msg_for(below_mark.s, storage), Contains("stack underflow"));
        pickle_writer memo;
        memo.proto().op('h').op(9);
        CHECK_THAT(msg_for(memo.s, storage), Contains("memo entry 9"));
        pickle_writer longstr;
        longstr.proto().op('X');
        put32(longstr.s, 0xfffffff0u);
        longstr.s += "abc";
        CHECK_THAT(msg_for(longstr.s, storage), Contains("needs 4294967280 more bytes"));
        pickle_writer long8;
        long8.proto().op(0x8d);
        put64(long8.s, ~std::uint64_t{0});
        CHECK_THAT(msg_for(long8.s, storage), Contains("more bytes"));
        pickle_writer noline;
        noline.proto().op('c').s += std::string(300, 'a');
        CHECK_THAT(msg_for(noline.s, storage), Contains("newline"));
        pickle_writer odd;
        odd.proto().op('}').mark().str("w").op('u').op('.');
        CHECK_THAT(msg_for(odd.s, storage), Contains("odd number"));
        pickle_writer call_dict;
        call_dict.proto().op('}').op(')').op('R');
        CHECK_THAT(msg_for(call_dict.s, storage), Contains("callable global"));
        pickle_writer od_args;
        od_args.proto().global("collections", "OrderedDict").mark().op(']').op('t').op('R');
        CHECK_THAT(msg_for(od_args.s, storage), Contains("OrderedDict"));
        pickle_writer bad_pid;
        bad_pid.proto().str("storage").op('Q');
        CHECK_THAT(msg_for(bad_pid.s, storage), Contains("persistent id"));
        pickle_writer build_list;
        build_list.proto().op(']').op('}').op('b');
        CHECK_THAT(msg_for(build_list.s, storage), Contains("BUILD"));
        pickle_writer bad_args = ok_prefix();
        bad_args.global("torch._utils", "_rebuild_tensor_v2").mark().str("x").integer(0).op('t').op('R');
        CHECK_THAT(msg_for(bad_args.s, storage), Contains("_rebuild_tensor_v2 called with 2 arguments"));
    }
    SECTION("bounded resources") {
        pickle_writer marks;
        marks.proto();
        marks.s.append(1'000'001, '(');
        CHECK_THAT(msg_for(marks.s, storage), Contains("nested MARKs"));
        pickle_writer stack;
        stack.proto();
        stack.s.append(1'000'001, 'N');
        CHECK_THAT(msg_for(stack.s, storage), Contains("stack deeper"));
        pickle_writer memo;
        memo.proto().op('N');
        for (std::uint32_t i = 0; i <= 1'000'000; ++i) {
            memo.op('r');
            put32(memo.s, i);
        }
        CHECK_THAT(msg_for(memo.s, storage), Contains("memo larger"));
    }
}

// ---- robustness ---------------------------------------------------------------------------------------

TEST_CASE("randomly corrupted checkpoints load or throw rwkv errors, never crash", "[io]") {
    std::mt19937_64 rng(20240607);
    for (const char* suffix : {".pth", ".safetensors"}) {
        const std::string golden = read_all(golden_v7(suffix));
        // The interesting bytes: the pickle or JSON header at the front, the zip directory at the back.
        const std::size_t front = std::min<std::size_t>(golden.size(), 7200);
        const std::size_t back = std::min<std::size_t>(golden.size(), 6000);
        std::string z = golden;
        std::size_t loaded = 0, rejected = 0;
        for (int iter = 0; iter < 400; ++iter) {
            std::vector<std::size_t> changed;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int k = 0; k < flips; ++k) {
                const bool at_front = (rng() & 1) != 0;
                const std::size_t at = at_front ? rng() % front : z.size() - 1 - rng() % back;
                z[at] = static_cast<char>(rng() & 0xff);
                changed.push_back(at);
            }
            try {
                load_and_touch(z, "fuzz");
                ++loaded;
            } catch (const rwkv::error& e) {
                CHECK_THAT(std::string(e.what()), Contains("fuzz: "));
                ++rejected;
            }
            for (const auto at : changed) z[at] = golden[at];  // restore for the next round
        }
        CHECK(loaded + rejected == 400);
        CHECK(loaded > 0);
        CHECK(rejected > 0);
    }
}

TEST_CASE("random opcode streams never escape the restricted unpickler", "[io]") {
    static const unsigned char ops[] = {0x80, 0x95, '}', ']',  ')', '(', 'X',  0x8c, 0x8d, 'U',  'T',  'c',  0x93, 'Q',
                                        'J',  'K',  'M', 0x8a, 'G', 'N', 0x88, 0x89, 't',  0x85, 0x86, 0x87, 'l',  'a',
                                        'e',  'd',  's', 'u',  'R', 'b', 'q',  'r',  0x94, 'h',  'j',  '.'};
    static const char* const globals[] = {"collections\nOrderedDict\n", "torch._utils\n_rebuild_tensor_v2\n",
                                          "torch\nFloatStorage\n", "torch._utils\n_rebuild_parameter\n"};
    std::mt19937_64 rng(99);
    std::size_t survived = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::string s = "\x80\x02";
        const int n = 1 + static_cast<int>(rng() % 60);
        for (int k = 0; k < n; ++k) {
            const unsigned char op = ops[rng() % sizeof(ops)];
            s += static_cast<char>(op);
            if (op == 'c') {
                s += globals[rng() % 4];
            } else if (op == 'X' || op == 'T') {
                put32(s, rng() % 4);
                s += "storage"[rng() % 7];
            } else {
                const int args = static_cast<int>(rng() % 3);
                for (int a = 0; a < args; ++a) s += static_cast<char>(rng() % 4);
            }
        }
        try {
            (void)rwkv::io::unpickle_state_dict(as_span(s), "rand.pkl");
            ++survived;
        } catch (const rwkv::error& e) {
            CHECK_THAT(std::string(e.what()), Contains("rand.pkl: "));
        }
    }
    CHECK(survived < 3000);
}
