// rwkv/models/loader.hpp — turns named checkpoint tensors into typed, shape-checked weights.
//
// Shared by every architecture. Given a precision policy P and a memory space it yields
//   * matrices  as const_matrix_view<P::weight_type>  (zero-copy into the mapped file when the file
//     already stores that type, suitably aligned; converted into an owned buffer otherwise)
//   * vectors and small tensors as std::span<const float>, with values rounded as P stores them
//     (docs/contracts.md: "--precision bf16 stores only the checkpoint's own tensors in bf16").
// A bf16 checkpoint under the f32 policy is upcast exactly (docs/spec/rwkv.md §6 item 15: upcast first).
// Every shape is checked; errors name the file, the tensor, the expected and the found shape.
//
// Weights are made on the host (checked, converted, transformed) and, for a model whose backend
// keeps its memory elsewhere (core/backend.hpp: memory_space), copied once into that space at the
// end of each call here: the views handed out point into the space. For the host space nothing is
// copied: views point into the mapped file or the host buffers, as always.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/buffer.hpp"
#include "rwkv/core/dtype.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/core/quant.hpp"
#include "rwkv/io/quantized_tensors.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/ops/ddlerp.hpp"

namespace rwkv {

inline std::string shape_string(std::span<const std::int64_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Owned storage behind a model's weights. Buffers never move once created (deque + unique storage).
template <class W, memory_space Space = host_space>
struct weight_storage {
    weight_storage() = default;
    explicit weight_storage(io::tensor_file f) : file(std::move(f)) {}

    io::tensor_file file;
    std::deque<aligned_buffer<float>> f32;
    std::deque<aligned_buffer<W>> packed;
    std::deque<aligned_buffer<std::int8_t>> codes;  // quantized policies: block codes
    std::deque<buffer<std::byte, Space>> in_space;  // copies in a non-host space of what the views show
    // What the forward pass reads (docs/contracts.md, `bench`): bytes of every tensor the model
    // keeps but the embedding table, and elements of its matrices (the head included).
    std::size_t weight_bytes = 0;
    std::size_t matrix_elements = 0;

    // Every matrix the model reads, with the tensor it was made from (tooling/convert.hpp writes
    // them back to a file in this form).
    struct stored_matrix {
        std::string name;
        std::vector<std::int64_t> shape;  // the tensor's shape in the source file
        const_matrix_view<W, Space> view;
    };
    std::vector<stored_matrix> matrices;
};

template <precision::policy P, memory_space Space = host_space>
class weight_loader {
public:
    using weight_type = typename P::weight_type;
    using space = Space;
    using vector_type = vector_view<const float, Space>;
    template <class T>
    using matrix_type = const_matrix_view<T, Space>;

    explicit weight_loader(weight_storage<weight_type, Space>& store) : store_(store) {}

    const io::tensor_file& file() const noexcept { return store_.file; }
    bool has(std::string_view name) const { return store_.file.find(name) != nullptr; }
    const io::tensor_entry& entry(std::string_view name) const { return store_.file.require(name); }

    // The shape of a tensor as stored.
    std::vector<std::int64_t> shape(std::string_view name) const { return entry(name).shape; }

    // A per-channel vector of n elements: shapes [n], [1, n], [1, 1, n] (squeezed, docs/spec/rwkv.md §1.2).
    vector_type vector(std::string_view name, std::size_t n) const { return to_space(host_vector(name, n)); }

    // The same in host memory, for load-time transforms (derive) and folds.
    std::span<const float> host_vector(std::string_view name, std::size_t n) const {
        const auto& e = entry(name);
        bool ok = !e.shape.empty() && static_cast<std::size_t>(e.shape.back()) == n;
        for (std::size_t i = 0; ok && i + 1 < e.shape.size(); ++i) ok = e.shape[i] == 1;
        if (!ok) throw mismatch(e, "[" + std::to_string(n) + "] (or [1, 1, " + std::to_string(n) + "])");
        return floats(e);
    }

    // A tensor of exactly `shape`, as flat floats (e.g. RWKV-7 r_k [H, N]).
    vector_type tensor(std::string_view name, std::vector<std::int64_t> shape) const {
        return to_space(host_tensor(name, std::move(shape)));
    }
    std::span<const float> host_tensor(std::string_view name, std::vector<std::int64_t> shape) const {
        const auto& e = entry(name);
        if (e.shape != shape) throw mismatch(e, shape_string(shape));
        return floats(e);
    }

    // A [rows, cols] matrix in the policy's storage type.
    matrix_type<weight_type> matrix(std::string_view name, std::size_t rows, std::size_t cols) const {
        const auto& e = entry(name);
        if (e.shape.size() != 2 || static_cast<std::size_t>(e.shape[0]) != rows ||
            static_cast<std::size_t>(e.shape[1]) != cols)
            throw mismatch(e, shape_string(std::vector<std::int64_t>{static_cast<std::int64_t>(rows),
                                                                     static_cast<std::int64_t>(cols)}));
        return make_matrix(e, rows, cols);
    }

    // A tensor of exactly `shape`, viewed as one row-major [rows, cols] matrix (e.g. RWKV-6's
    // time_maa_w2 [5, D, C] as [5·D, C], whose row blocks are the five LoRA factors).
    matrix_type<weight_type> matrix_of_tensor(std::string_view name, std::vector<std::int64_t> shape, std::size_t rows,
                                              std::size_t cols) const {
        const auto& e = entry(name);
        if (e.shape != shape) throw mismatch(e, shape_string(shape));
        return make_matrix(e, rows, cols);
    }

    // A matrix whose first dimension is known and whose second (a LoRA rank) is read from the file.
    matrix_type<weight_type> matrix_any_cols(std::string_view name, std::size_t rows) const {
        const auto& e = entry(name);
        if (e.shape.size() != 2 || static_cast<std::size_t>(e.shape[0]) != rows || e.shape[1] <= 0)
            throw mismatch(e, "[" + std::to_string(rows) + ", D] with D > 0");
        return matrix(name, rows, static_cast<std::size_t>(e.shape[1]));
    }

    // Converts any stored dtype to exact f32 values (no policy rounding): for load-time transforms
    // that must see the checkpoint's values, e.g. the embedding before ln0 is folded in.
    aligned_buffer<float> to_f32_copy(const io::tensor_entry& e) const {
        aligned_buffer<float> out(static_cast<std::size_t>(e.numel()));
        convert(e, out.data());
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = precision::round_to_weight<P>(out[i]);
        return out;
    }

    // A load-time transform of a vector (e.g. RWKV-4's w = −exp(time_decay)), kept in f32
    // whatever the policy (docs/contracts.md).
    template <class Fn>
    vector_type derive(std::span<const float> src, Fn fn) const {
        aligned_buffer<float> out(src.size());
        for (std::size_t i = 0; i < src.size(); ++i) out[i] = fn(src[i]);
        return keep(std::move(out));
    }

    // Keeps a derived f32 buffer alive for the model's lifetime and returns a view of it.
    vector_type keep(aligned_buffer<float>&& b) const { return to_space(keep_on_host(std::move(b))); }

    // The embedding table stored as E (float, or int8_block under the quantized policies) from the
    // [rows, cols] f32 values in `table` (the ln0-folded embedding); the f32 buffer is kept only for E = float.
    template <class E>
    matrix_type<E> embedding_table(aligned_buffer<float>&& table, std::size_t rows, std::size_t cols) const {
        if constexpr (std::is_same_v<E, float>)
            return to_space(const_matrix_view<float>{keep_on_host(std::move(table)).data(), rows, cols});
        else
            return to_space(quantize_owned<E>(table.data(), rows, cols));
    }

    // The same from a file whose emb.weight already is the folded table (rwkv-cli convert): in
    // place when stored as E, converted otherwise.
    template <class E>
    matrix_type<E> embedding_table(const io::tensor_entry& e, std::size_t rows, std::size_t cols) const {
        if constexpr (std::is_same_v<E, float>) {
            if (e.quant_bits == 0 && e.type == dtype::f32 &&
                reinterpret_cast<std::uintptr_t>(e.bytes.data()) % alignof(float) == 0) {
                const auto* p = reinterpret_cast<const float*>(e.bytes.data());
                check_finite(e, {p, rows * cols});
                return to_space(const_matrix_view<float>{p, rows, cols});
            }
        } else {
            if (auto m = in_place_quantized<E>(e, rows, cols); !m.empty()) return to_space(m);
        }
        aligned_buffer<float> tmp(rows * cols);
        convert(e, tmp.data());
        check_finite(e, tmp.span());
        store_.file.drop_pages(e);
        return embedding_table<E>(std::move(tmp), rows, cols);
    }

private:
    weight_storage<weight_type, Space>& store_;

    std::span<const float> keep_on_host(aligned_buffer<float>&& b) const {
        store_.f32.push_back(std::move(b));
        return store_.f32.back().span();
    }

    // `bytes` bytes of host memory at `src` copied into a new buffer of the space (kept by the store).
    const std::byte* upload(const void* src, std::size_t bytes) const {
        store_.in_space.emplace_back(bytes);
        auto& b = store_.in_space.back();
        b.copy_from_host(std::span<const std::byte>(static_cast<const std::byte*>(src), bytes));
        return b.data_handle();
    }

    // A host view as the space's: itself in the host space, a copy in the space otherwise.
    vector_type to_space(std::span<const float> v) const {
        if constexpr (std::is_same_v<Space, host_space>)
            return v;
        else
            return {reinterpret_cast<const float*>(upload(v.data(), v.size_bytes())), v.size()};
    }
    template <class T>
    matrix_type<T> to_space(const_matrix_view<T> m) const {
        if constexpr (std::is_same_v<Space, host_space>) {
            return m;
        } else if constexpr (quant_format<T>) {
            const auto* codes = reinterpret_cast<const std::int8_t*>(upload(m.codes, m.rows * m.code_stride));
            const auto* scales =
                reinterpret_cast<const float*>(upload(m.scales, m.rows * m.scale_stride * sizeof(float)));
            return {codes, scales, m.rows, m.cols, m.code_stride, m.scale_stride};
        } else {
            return {reinterpret_cast<const T*>(upload(m.data, m.rows * m.stride * sizeof(T))), m.rows, m.cols,
                    m.stride};
        }
    }

    model_error mismatch(const io::tensor_entry& e, const std::string& expected) const {
        return model_error(store_.file.display_name() + ": tensor '" + e.name + "' has shape " +
                           shape_string(e.shape) + ", expected " + expected);
    }

    void check_finite(const io::tensor_entry& e, std::span<const float> v) const {
        for (float x : v)
            if (!std::isfinite(x))
                throw model_error(store_.file.display_name() + ": tensor '" + e.name + "' contains NaN or Inf");
    }

    // Exact conversion of the stored elements to f32 (a quantized tensor is dequantized).
    void convert(const io::tensor_entry& e, float* out) const {
        const std::size_t n = static_cast<std::size_t>(e.numel());
        const std::byte* src = e.bytes.data();
        if (e.quant_bits != 0) {
            const std::size_t cols = static_cast<std::size_t>(e.shape.back()), rows = n / cols;
            const std::size_t row_bytes = io::quantized_row_bytes(e.quant_bits, cols);
            const std::size_t blocks = io::quantized_row_blocks(cols);
            const auto* codes = reinterpret_cast<const std::int8_t*>(src);
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = 0; j < cols; ++j) {
                    float scale;
                    std::memcpy(&scale, e.scales.data() + (i * blocks + j / quant_block_size) * 4, 4);
                    const float code = e.quant_bits == 8 ? quant_code<8>(codes + i * row_bytes, j)
                                                         : quant_code<4>(codes + i * row_bytes, j);
                    out[i * cols + j] = scale * code;
                }
            return;
        }
        switch (e.type) {
            case dtype::f32: std::memcpy(out, src, n * 4); break;
            case dtype::bf16:
                for (std::size_t i = 0; i < n; ++i) {
                    std::uint16_t b;
                    std::memcpy(&b, src + 2 * i, 2);
                    out[i] = bf16::from_bits(b).to_float();
                }
                break;
            case dtype::f16:
                for (std::size_t i = 0; i < n; ++i) {
                    std::uint16_t b;
                    std::memcpy(&b, src + 2 * i, 2);
                    out[i] = f16::from_bits(b).to_float();
                }
                break;
            case dtype::i8:
            case dtype::u8:
                throw unsupported_error(store_.file.display_name() + ": tensor '" + e.name + "' has dtype " +
                                        std::string(dtype_name(e.type)) +
                                        ", which rwkv reads only as the codes of a quantized matrix (listed in "
                                        "the metadata '" + io::quantized_metadata_key + "')");
        }
    }

    std::span<const float> floats(const io::tensor_entry& e) const {
        const auto n = static_cast<std::size_t>(e.numel());
        const bool view_ok = std::is_same_v<weight_type, float> && e.type == dtype::f32 &&
                             reinterpret_cast<std::uintptr_t>(e.bytes.data()) % alignof(float) == 0;
        std::span<const float> out;
        store_.weight_bytes += n * sizeof(float);
        if (view_ok) {
            out = {reinterpret_cast<const float*>(e.bytes.data()), n};
        } else {
            out = keep_on_host(to_f32_copy(e));
            store_.file.drop_pages(e);
        }
        check_finite(e, out);
        return out;
    }

    matrix_type<weight_type> make_matrix(const io::tensor_entry& e, std::size_t rows, std::size_t cols) const {
        matrix_type<weight_type> m;
        if constexpr (quant_format<weight_type>)
            m = to_space(quantized(e, rows, cols));
        else
            m = to_space(const_matrix_view<weight_type>{packed(e), rows, cols});
        store_.matrices.push_back({e.name, e.shape, m});
        return m;
    }

    // Block-quantizes the matrix (core/quant.hpp) from its exact f32 values, or uses it in place
    // when the file already stores it in this format (rwkv-cli convert).
    const_matrix_view<weight_type> quantized(const io::tensor_entry& e, std::size_t rows, std::size_t cols) const
        requires quant_format<weight_type>
    {
        auto m = in_place_quantized<weight_type>(e, rows, cols);
        if (m.empty()) {
            aligned_buffer<float> tmp(rows * cols);
            convert(e, tmp.data());
            check_finite(e, tmp.span());
            m = quantize_owned<weight_type>(tmp.data(), rows, cols);
            store_.file.drop_pages(e);
        }
        store_.weight_bytes += m.bytes();
        store_.matrix_elements += rows * cols;
        return m;
    }

    // The file's own codes and scales when `e` is stored quantized as Q (scales f32-aligned); else empty.
    template <quant_format Q>
    const_matrix_view<Q> in_place_quantized(const io::tensor_entry& e, std::size_t rows, std::size_t cols) const {
        if (e.quant_bits != Q::bits || reinterpret_cast<std::uintptr_t>(e.scales.data()) % alignof(float) != 0)
            return {};
        const std::size_t blocks = quant_row_blocks<Q>(cols);
        const auto* scales = reinterpret_cast<const float*>(e.scales.data());
        check_finite(e, {scales, rows * blocks});
        return {reinterpret_cast<const std::int8_t*>(e.bytes.data()), scales, rows, cols, quant_row_bytes<Q>(cols), blocks};
    }

    // Quantizes rows × cols f32 values into codes and scales the model owns.
    template <quant_format Q>
    const_matrix_view<Q> quantize_owned(const float* data, std::size_t rows, std::size_t cols) const {
        const std::size_t row_bytes = quant_row_bytes<Q>(cols), blocks = quant_row_blocks<Q>(cols);
        aligned_buffer<std::int8_t> codes(rows * row_bytes);
        aligned_buffer<float> scales(rows * blocks);
        for (std::size_t i = 0; i < rows; ++i)
            quantize_row<Q>(data + i * cols, cols, codes.data() + i * row_bytes, scales.data() + i * blocks);
        store_.codes.push_back(std::move(codes));
        store_.f32.push_back(std::move(scales));
        return {store_.codes.back().data(), store_.f32.back().data(), rows, cols, row_bytes, blocks};
    }

    const weight_type* packed(const io::tensor_entry& e) const
        requires(!quant_format<weight_type>)
    {
        const auto n = static_cast<std::size_t>(e.numel());
        store_.weight_bytes += n * sizeof(weight_type);
        store_.matrix_elements += n;
        if (e.type == dtype_of<weight_type>::value &&
            reinterpret_cast<std::uintptr_t>(e.bytes.data()) % alignof(weight_type) == 0) {
            const auto* p = reinterpret_cast<const weight_type*>(e.bytes.data());
            for (std::size_t i = 0; i < n; ++i)
                if (!std::isfinite(to_f32(p[i])))
                    throw model_error(store_.file.display_name() + ": tensor '" + e.name + "' contains NaN or Inf");
            return p;
        }
        aligned_buffer<float> tmp(n);
        convert(e, tmp.data());
        check_finite(e, tmp.span());
        aligned_buffer<weight_type> out(n);
        for (std::size_t i = 0; i < n; ++i) out[i] = from_f32<weight_type>(tmp[i]);
        store_.packed.push_back(std::move(out));
        store_.file.drop_pages(e);
        return store_.packed.back().data();
    }
};

}  // namespace rwkv

namespace rwkv {

// L = 1 + the largest i among keys "blocks.{i}.…" (docs/spec/rwkv.md §1.1); every block must then have ln1.
inline std::size_t count_layers(const io::tensor_file& f) {
    std::size_t max_index = 0;
    bool any = false;
    for (const auto& t : f.tensors()) {
        const std::string_view name = t.name;
        if (!name.starts_with("blocks.")) continue;
        std::size_t i = 7, value = 0;
        bool digits = false;
        while (i < name.size() && name[i] >= '0' && name[i] <= '9' && value < 1'000'000) {
            value = value * 10 + static_cast<std::size_t>(name[i] - '0');
            ++i;
            digits = true;
        }
        if (!digits || i >= name.size() || name[i] != '.') continue;
        any = true;
        max_index = std::max(max_index, value);
    }
    if (!any) throw model_error(f.display_name() + ": no 'blocks.{i}.*' tensors found");
    const std::size_t n = max_index + 1;
    for (std::size_t i = 0; i < n; ++i)
        f.require("blocks." + std::to_string(i) + ".ln1.weight");
    return n;
}

}  // namespace rwkv

namespace rwkv {

// A ddlerp's tensors under `prefix`: time_maa_x, time_maa_{names[f]}, time_maa_w1 [C, K·D] and
// time_maa_w2 [K, D, C] (or, with w1/w2 names given, those LoRA tensors).
template <precision::policy P, std::size_t K, memory_space S>
ops::ddlerp_weights<typename P::weight_type, K, S> load_ddlerp(const weight_loader<P, S>& ld, const std::string& prefix,
                                                               const std::array<const char*, K>& names, std::size_t C,
                                                               std::size_t D, const char* w1 = "time_maa_w1",
                                                               const char* w2 = "time_maa_w2") {
    ops::ddlerp_weights<typename P::weight_type, K, S> p;
    p.mu_x = ld.vector(prefix + "time_maa_x", C);
    for (std::size_t f = 0; f < K; ++f) p.mu[f] = ld.vector(prefix + "time_maa_" + names[f], C);
    p.w1 = ld.matrix(prefix + w1, C, K * D);
    const auto i64 = [](std::size_t n) { return static_cast<std::int64_t>(n); };
    const auto all = K == 1 ? ld.matrix(prefix + w2, D, C)
                            : ld.matrix_of_tensor(prefix + w2, {i64(K), i64(D), i64(C)}, K * D, C);
    for (std::size_t f = 0; f < K; ++f) p.w2[f] = all.rows_slice(f * D, D);
    return p;
}

}  // namespace rwkv
