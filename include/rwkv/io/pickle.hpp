// rwkv/io/pickle.hpp — a restricted unpickler for the data.pkl of a torch.save'd state_dict.
//
// It runs no code: the only globals it resolves are collections.OrderedDict, the torch._utils tensor
// rebuild functions and the torch storage types of the element types we support, and REDUCE only
// "calls" those, by building plain descriptions. The result is the list of (name, tensor description)
// pairs of the top-level dict; the caller (pth.hpp) resolves storages to zip entries.
//
// Opcodes follow Python's Lib/pickle.py (protocols 2–5): the torch writer uses protocol 2; framing,
// MEMOIZE, STACK_GLOBAL and the short string forms of protocol 4 are accepted too. Everything is
// bounded: stack depth, mark depth, memo size, total objects, and every length read from the input is
// checked against the bytes that remain. The machine is a loop over opcodes with an object arena;
// nothing recurses on input.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/io/binary.hpp"

namespace rwkv::io {

// One tensor of the state_dict, as described by _rebuild_tensor_v2(storage, storage_offset, size,
// stride, ...) and the storage's persistent id ('storage', type, key, location, numel).
struct pickled_tensor {
    std::string name;                     // the state_dict key
    std::string storage_key;              // the storage lives in zip entry <prefix>/data/<storage_key>
    rwkv::dtype type = rwkv::dtype::f32;  // from the storage type
    std::int64_t storage_numel = 0;       // elements the persistent id declares for the storage
    std::int64_t storage_offset = 0;      // in elements
    std::vector<std::int64_t> size;       // shape
    std::vector<std::int64_t> stride;     // in elements
};

namespace detail {

class restricted_unpickler {
public:
    static constexpr std::size_t max_stack = 1'000'000;
    static constexpr std::size_t max_marks = 1'000'000;
    static constexpr std::size_t max_memo = 1'000'000;
    static constexpr std::size_t max_objects = 10'000'000;  // container elements + arena objects
    static constexpr std::size_t max_dims = 64;
    static constexpr std::size_t max_global_line = 256;

    restricted_unpickler(std::span<const std::byte> input, const std::string& display_name)
        : in_(input), name_(display_name) {}

    std::vector<pickled_tensor> run() {
        for (;;) {
            if (pos_ >= in_.size())
                fail("pickle ends at offset " + std::to_string(pos_) + " without a STOP opcode (truncated?)");
            op_pos_ = pos_;
            op_ = std::to_integer<std::uint8_t>(in_[pos_++]);
            if (op_ == '.') return finish();  // STOP
            step();
        }
    }

private:
    enum class kind : std::uint8_t { none, boolean, integer, real, string, tuple, list, dict, global, storage, tensor };
    enum class global_id : std::uint8_t { ordered_dict, rebuild_tensor_v2, rebuild_tensor, rebuild_parameter, storage };

    // A pickle value: scalars inline, everything else an index into the arena vectors below. Lists and
    // dicts are shared through the memo by index, as Python shares them by reference.
    struct value {
        kind k = kind::none;
        dtype storage_type = dtype::f32;  // for a storage-type global
        std::int64_t i = 0;               // integer / boolean value, arena index, or global_id
        double f = 0;                     // float value
    };
    static value scalar(kind k, std::int64_t i) noexcept { return {k, dtype::f32, i, 0}; }
    struct storage_ref {
        std::size_t key;  // index into strings_
        dtype type;
        std::int64_t numel;
    };
    struct tensor_desc {
        std::size_t storage;  // index into storages_
        std::int64_t offset;
        std::vector<std::int64_t> size, stride;
    };

    // ---- errors --------------------------------------------------------------------------------
    [[noreturn]] void fail(const std::string& what) const { throw format_error(name_ + ": " + what); }
    [[noreturn]] void fail_op(const std::string& what) const {
        fail("pickle opcode " + hex_byte(op_) + " ('" +
             printable(std::string_view(reinterpret_cast<const char*>(&op_), 1)) + "') at offset " +
             std::to_string(op_pos_) + ": " + what);
    }
    static const char* type_name(kind k) noexcept {
        switch (k) {
            case kind::none: return "None";
            case kind::boolean: return "bool";
            case kind::integer: return "int";
            case kind::real: return "float";
            case kind::string: return "str";
            case kind::tuple: return "tuple";
            case kind::list: return "list";
            case kind::dict: return "dict";
            case kind::global: return "global";
            case kind::storage: return "storage";
            case kind::tensor: return "tensor";
        }
        return "?";
    }

    // ---- input ---------------------------------------------------------------------------------
    void need(std::uint64_t n) const {
        if (n > in_.size() - pos_) {
            fail_op("needs " + std::to_string(n) + " more bytes but only " + std::to_string(in_.size() - pos_) +
                    " remain (truncated?)");
        }
    }
    template <class T>
    T read_le() {
        need(sizeof(T));
        const T v = load_le<T>(in_, pos_);
        pos_ += sizeof(T);
        return v;
    }
    std::string_view read_bytes(std::uint64_t n) {
        need(n);
        const auto s = as_chars(in_.subspan(pos_, static_cast<std::size_t>(n)));
        pos_ += static_cast<std::size_t>(n);
        return s;
    }
    // A '\n'-terminated line of a GLOBAL opcode (text protocol), without the newline.
    std::string_view read_line() {
        const std::size_t limit = std::min(in_.size() - pos_, max_global_line);
        for (std::size_t i = 0; i < limit; ++i) {
            if (in_[pos_ + i] == std::byte{'\n'}) {
                const auto s = as_chars(in_.subspan(pos_, i));
                pos_ += i + 1;
                return s;
            }
        }
        fail_op("expected a newline-terminated module or name of at most " + std::to_string(max_global_line) +
                " bytes");
    }

    // ---- stack, marks, arena -------------------------------------------------------------------
    std::size_t floor() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
    void push(value v) {
        if (stack_.size() >= max_stack) fail_op("pickle stack deeper than " + std::to_string(max_stack));
        stack_.push_back(v);
    }
    value pop() {
        if (stack_.size() <= floor()) fail_op("pickle stack underflow");
        const value v = stack_.back();
        stack_.pop_back();
        return v;
    }
    value& top() {
        if (stack_.size() <= floor()) fail_op("pickle stack underflow");
        return stack_.back();
    }
    // Removes and returns the values above the innermost MARK, and the MARK.
    std::vector<value> pop_mark() {
        if (marks_.empty()) fail_op("no MARK to pop to");
        const std::size_t m = marks_.back();
        marks_.pop_back();
        std::vector<value> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
        stack_.resize(m);
        return items;
    }
    void count(std::size_t n) {
        objects_ += n;
        if (objects_ > max_objects) fail_op("pickle builds more than " + std::to_string(max_objects) + " objects");
    }
    value make_string(std::string_view s) {
        count(1);
        strings_.emplace_back(s);
        return scalar(kind::string, static_cast<std::int64_t>(strings_.size() - 1));
    }
    value make_seq(kind k, std::vector<value> items) {
        count(1 + items.size());
        seqs_.push_back(std::move(items));
        return scalar(k, static_cast<std::int64_t>(seqs_.size() - 1));
    }
    value make_dict() {
        count(1);
        dicts_.emplace_back();
        return scalar(kind::dict, static_cast<std::int64_t>(dicts_.size() - 1));
    }
    const std::string& str(const value& v) const { return strings_[static_cast<std::size_t>(v.i)]; }
    std::vector<value>& seq(const value& v) { return seqs_[static_cast<std::size_t>(v.i)]; }
    std::vector<std::pair<value, value>>& dict(const value& v) { return dicts_[static_cast<std::size_t>(v.i)]; }

    void memo_put(std::uint32_t index) {
        const value v = top();
        auto it = memo_.find(index);
        if (it != memo_.end()) {
            it->second = v;
            return;
        }
        if (memo_.size() >= max_memo) fail_op("pickle memo larger than " + std::to_string(max_memo) + " entries");
        memo_.emplace(index, v);
    }
    void memo_get(std::uint32_t index) {
        auto it = memo_.find(index);
        if (it == memo_.end()) fail_op("memo entry " + std::to_string(index) + " was never stored");
        push(it->second);
    }

    // ---- globals -------------------------------------------------------------------------------
    value resolve_global(std::string_view module, std::string_view name) {
        auto g = [](global_id id) { return scalar(kind::global, static_cast<std::int64_t>(id)); };
        auto storage = [&](dtype t) {
            value v = g(global_id::storage);
            v.storage_type = t;
            return v;
        };
        if (module == "collections" && name == "OrderedDict") return g(global_id::ordered_dict);
        if (module == "torch._utils" && name == "_rebuild_tensor_v2") return g(global_id::rebuild_tensor_v2);
        if (module == "torch._utils" && name == "_rebuild_tensor") return g(global_id::rebuild_tensor);
        if (module == "torch._utils" && name == "_rebuild_parameter") return g(global_id::rebuild_parameter);
        if (module == "torch" && name == "FloatStorage") return storage(dtype::f32);
        if (module == "torch" && name == "BFloat16Storage") return storage(dtype::bf16);
        if (module == "torch" && name == "HalfStorage") return storage(dtype::f16);
        const std::string full = printable(module) + "." + printable(name);
        if (module == "torch" && name.size() > 7 && name.substr(name.size() - 7) == "Storage") {
            throw unsupported_error(name_ + ": pickle uses storage type '" + full +
                                    "'; only float32 (FloatStorage), bfloat16 (BFloat16Storage) and float16 "
                                    "(HalfStorage) tensors are supported");
        }
        fail("pickle references forbidden global '" + full +
             "'; only torch tensor rebuild functions and storage types are allowed");
    }

    // ---- REDUCE and BINPERSID ------------------------------------------------------------------
    std::vector<std::int64_t> int_tuple(const value& v, const char* what) {
        if (v.k != kind::tuple) fail_op(std::string(what) + " must be a tuple of ints, found " + type_name(v.k));
        const auto& items = seq(v);
        if (items.size() > max_dims)
            fail_op(std::string(what) + " has " + std::to_string(items.size()) + " dimensions, more than " +
                    std::to_string(max_dims));
        std::vector<std::int64_t> out;
        out.reserve(items.size());
        for (const auto& x : items) {
            if (x.k != kind::integer)
                fail_op(std::string(what) + " must be a tuple of ints, found a " + type_name(x.k) + " in it");
            out.push_back(x.i);
        }
        return out;
    }

    value rebuild_tensor(const std::vector<value>& args, bool v2) {
        // _rebuild_tensor(storage, storage_offset, size, stride)
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        const std::string fn = v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor";
        const bool arity_ok = v2 ? (args.size() == 6 || args.size() == 7) : args.size() == 4;
        if (!arity_ok)
            fail_op(fn + " called with " + std::to_string(args.size()) + " arguments, expected " +
                    (v2 ? "6 or 7" : "4"));
        if (args[0].k != kind::storage)
            fail_op(fn + ": argument 1 must be a storage (persistent id), found " + type_name(args[0].k));
        if (args[1].k != kind::integer || args[1].i < 0) fail_op(fn + ": storage_offset must be a non-negative int");
        tensor_desc t;
        t.storage = static_cast<std::size_t>(args[0].i);
        t.offset = args[1].i;
        t.size = int_tuple(args[2], "tensor size");
        t.stride = int_tuple(args[3], "tensor stride");
        if (t.size.size() != t.stride.size()) {
            fail_op(fn + ": size has " + std::to_string(t.size.size()) + " dimensions but stride has " +
                    std::to_string(t.stride.size()));
        }
        if (v2) {
            if (args[4].k != kind::boolean)
                fail_op(fn + ": requires_grad must be a bool, found " + type_name(args[4].k));
            if (args[5].k != kind::dict) fail_op(fn + ": backward_hooks must be a dict, found " + type_name(args[5].k));
            if (args.size() == 7 && args[6].k != kind::dict && args[6].k != kind::none) {
                fail_op(fn + ": metadata must be a dict or None, found " + type_name(args[6].k));
            }
        }
        count(1 + 2 * t.size.size());
        tensors_.push_back(std::move(t));
        return scalar(kind::tensor, static_cast<std::int64_t>(tensors_.size() - 1));
    }

    void reduce() {
        const value args_v = pop();
        const value fn = pop();
        if (fn.k != kind::global) fail_op(std::string("REDUCE needs a callable global, found a ") + type_name(fn.k));
        if (args_v.k != kind::tuple)
            fail_op(std::string("REDUCE arguments must be a tuple, found a ") + type_name(args_v.k));
        const std::vector<value> args = seq(args_v);
        switch (static_cast<global_id>(fn.i)) {
            case global_id::ordered_dict:
                if (!args.empty()) fail_op("collections.OrderedDict is only accepted with no arguments");
                push(make_dict());
                return;
            case global_id::rebuild_tensor_v2: push(rebuild_tensor(args, true)); return;
            case global_id::rebuild_tensor: push(rebuild_tensor(args, false)); return;
            case global_id::rebuild_parameter:
                // _rebuild_parameter(data, requires_grad, backward_hooks): the parameter is its tensor.
                if (args.size() != 3 || args[0].k != kind::tensor) {
                    fail_op("_rebuild_parameter expects (tensor, requires_grad, backward_hooks)");
                }
                push(args[0]);
                return;
            case global_id::storage: fail_op("a storage type cannot be called");
        }
        fail_op("unknown global");
    }

    // torch's persistent id for a storage: ('storage', storage_type, key, location, numel).
    void persistent_load() {
        const value pid = pop();
        if (pid.k != kind::tuple) fail_op(std::string("persistent id must be a tuple, found a ") + type_name(pid.k));
        const auto& t = seq(pid);
        if (t.size() != 5 || t[0].k != kind::string || str(t[0]) != "storage") {
            fail_op("persistent id must be ('storage', storage_type, key, location, numel)");
        }
        if (t[1].k != kind::global || static_cast<global_id>(t[1].i) != global_id::storage) {
            fail_op(std::string("persistent id: storage_type must be a torch storage type, found a ") +
                    type_name(t[1].k));
        }
        if (t[2].k != kind::string)
            fail_op(std::string("persistent id: key must be a str, found a ") + type_name(t[2].k));
        if (t[3].k != kind::string)
            fail_op(std::string("persistent id: location must be a str, found a ") + type_name(t[3].k));
        if (t[4].k != kind::integer || t[4].i < 0) fail_op("persistent id: numel must be a non-negative int");
        count(1);
        storages_.push_back({static_cast<std::size_t>(t[2].i), t[1].storage_type, t[4].i});
        push(scalar(kind::storage, static_cast<std::int64_t>(storages_.size() - 1)));
    }

    // ---- the opcode dispatch ---------------------------------------------------------------------
    void step() {
        switch (op_) {
            case 0x80: {  // PROTO
                const auto v = read_le<std::uint8_t>();
                if (v < 2 || v > 5)
                    fail_op("pickle protocol " + std::to_string(v) + " is not supported (expected 2 to 5)");
                return;
            }
            case 0x95: {  // FRAME: a length prefix for the opcodes that follow; nothing to do
                const auto n = read_le<std::uint64_t>();
                if (n > in_.size() - pos_)
                    fail_op("frame of " + std::to_string(n) + " bytes runs past the end of the pickle");
                return;
            }
            case '}': push(make_dict()); return;                // EMPTY_DICT
            case ']': push(make_seq(kind::list, {})); return;   // EMPTY_LIST
            case ')': push(make_seq(kind::tuple, {})); return;  // EMPTY_TUPLE
            case '(':                                           // MARK
                if (marks_.size() >= max_marks) fail_op("more than " + std::to_string(max_marks) + " nested MARKs");
                marks_.push_back(stack_.size());
                return;
            case 'X': push(make_string(read_bytes(read_le<std::uint32_t>()))); return;   // BINUNICODE
            case 0x8c: push(make_string(read_bytes(read_le<std::uint8_t>()))); return;   // SHORT_BINUNICODE
            case 0x8d: push(make_string(read_bytes(read_le<std::uint64_t>()))); return;  // BINUNICODE8
            case 'U': push(make_string(read_bytes(read_le<std::uint8_t>()))); return;    // SHORT_BINSTRING
            case 'T': {                                                                  // BINSTRING
                const auto n = static_cast<std::int32_t>(read_le<std::uint32_t>());
                if (n < 0) fail_op("negative string length");
                push(make_string(read_bytes(static_cast<std::uint64_t>(n))));
                return;
            }
            case 'c': {  // GLOBAL "module\nname\n"
                const auto module = read_line();
                const auto name = read_line();
                push(resolve_global(module, name));
                return;
            }
            case 0x93: {  // STACK_GLOBAL
                const value name = pop();
                const value module = pop();
                if (name.k != kind::string || module.k != kind::string) fail_op("STACK_GLOBAL needs two strs");
                push(resolve_global(str(module), str(name)));
                return;
            }
            case 'Q': persistent_load(); return;  // BINPERSID
            case 'J':  // BININT
                push(scalar(kind::integer, static_cast<std::int32_t>(read_le<std::uint32_t>())));
                return;
            case 'K': push(scalar(kind::integer, read_le<std::uint8_t>())); return;   // BININT1
            case 'M': push(scalar(kind::integer, read_le<std::uint16_t>())); return;  // BININT2
            case 0x8a: {  // LONG1: n-byte little-endian two's complement
                const std::size_t n = read_le<std::uint8_t>();
                if (n > 8) fail_op("integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
                const auto b = read_bytes(n);
                std::uint64_t u = 0;
                for (std::size_t k = 0; k < n; ++k)
                    u |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[k])) << (8 * k);
                if (n > 0 && n < 8 && (static_cast<unsigned char>(b[n - 1]) & 0x80u)) u |= ~std::uint64_t{0} << (8 * n);
                push(scalar(kind::integer, static_cast<std::int64_t>(u)));
                return;
            }
            case 'G': {  // BINFLOAT: 8-byte big-endian IEEE double
                const auto b = read_bytes(8);
                std::uint64_t u = 0;
                for (std::size_t k = 0; k < 8; ++k) u = (u << 8) | static_cast<unsigned char>(b[k]);
                push({kind::real, dtype::f32, 0, std::bit_cast<double>(u)});
                return;
            }
            case 'N': push(scalar(kind::none, 0)); return;              // NONE
            case 0x88: push(scalar(kind::boolean, 1)); return;          // NEWTRUE
            case 0x89: push(scalar(kind::boolean, 0)); return;          // NEWFALSE
            case 't': push(make_seq(kind::tuple, pop_mark())); return;  // TUPLE
            case 0x85:                                                  // TUPLE1
            case 0x86:                                                  // TUPLE2
            case 0x87: {                                                // TUPLE3
                const std::size_t n = op_ - 0x84u;
                std::vector<value> items(n);
                for (std::size_t k = n; k-- > 0;) items[k] = pop();
                push(make_seq(kind::tuple, std::move(items)));
                return;
            }
            case 'l': push(make_seq(kind::list, pop_mark())); return;  // LIST
            case 'a': {                                                // APPEND
                const value v = pop();
                const value list = top();
                if (list.k != kind::list)
                    fail_op(std::string("APPEND to a ") + type_name(list.k) + ", expected a list");
                count(1);
                seq(list).push_back(v);
                return;
            }
            case 'e': {  // APPENDS
                auto items = pop_mark();
                const value list = top();
                if (list.k != kind::list)
                    fail_op(std::string("APPENDS to a ") + type_name(list.k) + ", expected a list");
                count(items.size());
                auto& dst = seq(list);
                dst.insert(dst.end(), items.begin(), items.end());
                return;
            }
            case 'd': {  // DICT
                auto items = pop_mark();
                const value d = make_dict();
                set_items(d, items);
                push(d);
                return;
            }
            case 's': {  // SETITEM
                const value v = pop();
                const value k = pop();
                set_items(top(), {k, v});
                return;
            }
            case 'u': {  // SETITEMS
                auto items = pop_mark();
                set_items(top(), items);
                return;
            }
            case 'R': reduce(); return;  // REDUCE
            case 'b': {                  // BUILD: only the attribute dict of an OrderedDict (state_dict._metadata)
                const value state = pop();
                const value target = top();
                if (target.k != kind::dict || (state.k != kind::dict && state.k != kind::none)) {
                    fail_op(std::string("BUILD is only accepted with a dict state on a dict, found a ") +
                            type_name(state.k) + " state on a " + type_name(target.k));
                }
                return;
            }
            case 'q': memo_put(read_le<std::uint8_t>()); return;                    // BINPUT
            case 'r': memo_put(read_le<std::uint32_t>()); return;                   // LONG_BINPUT
            case 0x94: memo_put(static_cast<std::uint32_t>(memo_.size())); return;  // MEMOIZE
            case 'h': memo_get(read_le<std::uint8_t>()); return;                    // BINGET
            case 'j': memo_get(read_le<std::uint32_t>()); return;                   // LONG_BINGET
            default: break;
        }
        fail("unsupported pickle opcode " + hex_byte(op_) + " at offset " + std::to_string(op_pos_) +
             "; only the opcodes torch.save uses for state_dicts are accepted");
    }

    void set_items(const value& d, const std::vector<value>& items) {
        if (d.k != kind::dict) fail_op(std::string("setting items on a ") + type_name(d.k) + ", expected a dict");
        if (items.size() % 2 != 0) fail_op("odd number of values for key/value pairs");
        count(items.size());
        auto& dst = dict(d);
        for (std::size_t k = 0; k + 1 < items.size(); k += 2) dst.emplace_back(items[k], items[k + 1]);
    }

    // STOP: the top-level object must be a dict of str → tensor.
    std::vector<pickled_tensor> finish() {
        const value root = pop();
        if (root.k != kind::dict) {
            fail(std::string("pickle's top-level object is a ") + type_name(root.k) +
                 ", expected a dict of tensors (a state_dict)");
        }
        const auto& items = dict(root);
        std::vector<pickled_tensor> out;
        out.reserve(items.size());
        std::unordered_map<std::string_view, std::size_t> seen;
        for (const auto& [k, v] : items) {
            if (k.k != kind::string)
                fail(std::string("state_dict has a key of type ") + type_name(k.k) + ", expected str");
            const std::string& key = str(k);
            if (v.k != kind::tensor && extras_ != nullptr && int_sequence(v)) {
                // A list/tuple of ints beside the tensors (e.g. EmbeddingRWKV's reranker_layer_idx):
                // kept as text "[a, b, ...]" for the caller's metadata.
                std::string text = "[";
                for (const auto& x : seq(v)) text += (text.size() > 1 ? ", " : "") + std::to_string(x.i);
                (*extras_)[key] = text + "]";
                continue;
            }
            if (v.k != kind::tensor) {
                fail("state_dict entry '" + printable(key) + "' is a " + type_name(v.k) + ", expected a tensor" +
                     (v.k == kind::dict ? " (nested dicts such as {'state_dict': ...} are not supported; save the "
                                          "state_dict itself)"
                                        : ""));
            }
            if (!seen.emplace(key, out.size()).second)
                fail("state_dict has two entries named '" + printable(key) + "'");
            const tensor_desc& t = tensors_[static_cast<std::size_t>(v.i)];
            const storage_ref& s = storages_[t.storage];
            out.push_back({key, strings_[s.key], s.type, s.numel, t.offset, t.size, t.stride});
        }
        return out;
    }

    bool int_sequence(const value& v) {
        if (v.k != kind::list && v.k != kind::tuple) return false;
        for (const auto& x : seq(v))
            if (x.k != kind::integer) return false;
        return true;
    }

public:
    std::map<std::string, std::string, std::less<>>* extras_ = nullptr;  // where int lists go; null: rejected

private:
    std::span<const std::byte> in_;
    const std::string& name_;
    std::size_t pos_ = 0;
    std::size_t op_pos_ = 0;
    std::uint8_t op_ = 0;

    std::vector<value> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint32_t, value> memo_;
    std::size_t objects_ = 0;

    std::vector<std::string> strings_;
    std::vector<std::vector<value>> seqs_;
    std::vector<std::vector<std::pair<value, value>>> dicts_;
    std::vector<storage_ref> storages_;
    std::vector<tensor_desc> tensors_;
};

}  // namespace detail

// Unpickles a torch state_dict's data.pkl into tensor descriptions, in the dict's insertion order.
// Throws format_error for malformed or forbidden content and unsupported_error for storages of other
// element types; messages start with `display_name`.
inline std::vector<pickled_tensor> unpickle_state_dict(std::span<const std::byte> pickle,
                                                       const std::string& display_name,
                                                       std::map<std::string, std::string, std::less<>>* extras = nullptr) {
    detail::restricted_unpickler u(pickle, display_name);
    u.extras_ = extras;
    return u.run();
}

}  // namespace rwkv::io
