// rwkv/state/state_tuning.hpp — state-tuning files: a learned initial matrix state per layer.
//
// State tuning (RWKV-LM / RWKV-PEFT, `--train_type state`) trains only each layer's initial WKV
// state and saves it as `blocks.N.att.time_state`, one tensor of shape [H, N, N] per layer, in a
// .pth (or safetensors) file. The file stores every version's state as the training kernels keep
// it, S[h][value][key]; the runtime state lists differ (docs/formats.md, "State-tuning files"):
//   * RWKV-5.2 / RWKV-6: the official runtime state is S[h][key][value], so the official loaders
//     (ChatRWKV's chat and API demos, the rwkv pip package's `time_state` path) transpose the last
//     two dimensions: runtime[h][i][j] = file[h][j][i]. So do we.
//   * RWKV-7: the official runtime state is S[h][value][key], the file's own orientation: copied
//     as it is.
// Only the matrix states are set; every other entry (the token-shift x_prev vectors) stays as the
// state had it — zero for a fresh state, as the official loaders start them. RWKV-4 has no matrix
// state, and GoldFinch's is not what its files' time_state would mean: both are refused.
//
// Errors name the file, the tensor and what was expected: state_error for a file that does not
// fit the model (missing layer, extra layer, wrong shape, a dtype that is not a float),
// unsupported_error for an architecture without a matrix state. Reading the file itself throws the
// readers' io_error / format_error / unsupported_error.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/core/error.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/io/ggml_types.hpp"
#include "rwkv/io/safetensors.hpp"
#include "rwkv/io/tensor_file.hpp"

namespace rwkv {

namespace detail {

// Whether the architecture's runtime matrix state is the transpose of a time_state tensor.
inline bool time_state_transposed(const state_layout& layout, const std::string& shown) {
    switch (layout.arch) {
        case architecture::rwkv5:
        case architecture::rwkv6: return true;
        case architecture::rwkv7: return false;
        case architecture::rwkv4:
        case architecture::goldfinch: break;
    }
    throw unsupported_error(shown + ": a state-tuning file sets the matrix (WKV) state of an RWKV-5, -6 or -7 "
                            "model; this model is " + std::string(architecture_name(layout.arch)) +
                            ", which has none that such a file describes");
}

inline std::string dims_text(std::span<const std::int64_t> s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// "blocks.N.att.time_state" → N; other names → -1.
inline long long time_state_layer(std::string_view name) {
    constexpr std::string_view prefix = "blocks.", suffix = ".att.time_state";
    if (!name.starts_with(prefix) || !name.ends_with(suffix) || name.size() <= prefix.size() + suffix.size()) return -1;
    const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    unsigned long long n = 0;
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (r.ec != std::errc{} || r.ptr != digits.data() + digits.size() || n > (1ull << 30)) return -1;
    return static_cast<long long>(n);
}

}  // namespace detail

// The matrix-state entry index of each layer of `layout` ("blocks.N.att.kv").
inline std::vector<std::size_t> matrix_state_entries(const state_layout& layout) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < layout.entries.size(); ++i)
        if (layout.entries[i].name.ends_with(".att.kv")) out.push_back(i);
    return out;
}

// Sets the matrix state of every layer of `st` from the `blocks.N.att.time_state` tensors of
// `file` (see the top of this file). Other tensors in the file are ignored; other state entries
// are left as they are.
template <memory_space Space>
void apply_state_tuning(basic_state<Space>& st, const io::tensor_file& file) {
    const std::string& shown = file.display_name();
    const state_layout& layout = st.layout();
    const bool transpose = detail::time_state_transposed(layout, shown);
    const std::size_t H = layout.n_head, N = layout.head_size;
    const auto entries = matrix_state_entries(layout);
    if (entries.size() != layout.n_layer)
        throw unsupported_error(shown + ": this " + layout.describe() + " model has matrix states in " +
                                std::to_string(entries.size()) + " of its " + std::to_string(layout.n_layer) +
                                " layers; state tuning needs one per layer");

    std::map<std::size_t, const io::tensor_entry*> by_layer;
    for (const auto& t : file.tensors()) {
        const long long n = detail::time_state_layer(t.name);
        if (n < 0) continue;
        if (static_cast<unsigned long long>(n) >= layout.n_layer)
            throw state_error(shown + ": tensor '" + t.name + "' is for layer " + std::to_string(n) + ", but the model has " +
                              std::to_string(layout.n_layer) + " layers (blocks.0 … blocks." +
                              std::to_string(layout.n_layer - 1) + ")");
        by_layer[static_cast<std::size_t>(n)] = &t;
    }
    if (by_layer.empty())
        throw state_error(shown + ": no 'blocks.N.att.time_state' tensors: not a state-tuning file");

    std::vector<float> values(layout.total);
    st.copy_values_to_host(values);
    const std::vector<std::int64_t> expected{static_cast<std::int64_t>(H), static_cast<std::int64_t>(N),
                                             static_cast<std::int64_t>(N)};
    std::vector<float> file_values(H * N * N);
    for (std::size_t layer = 0; layer < layout.n_layer; ++layer) {
        const std::string name = "blocks." + std::to_string(layer) + ".att.time_state";
        const auto it = by_layer.find(layer);
        if (it == by_layer.end())
            throw state_error(shown + ": tensor '" + name + "' is missing; a state-tuning file for this model has one per layer (" +
                              std::to_string(layout.n_layer) + " layers, each [" + std::to_string(H) + ", " +
                              std::to_string(N) + ", " + std::to_string(N) + "])");
        const io::tensor_entry& t = *it->second;
        if (t.shape != expected)
            throw state_error(shown + ": tensor '" + name + "' has shape " + detail::dims_text(t.shape) + ", expected " +
                              detail::dims_text(expected) + " (n_head, head_size, head_size)");
        if (t.quant_bits != 0 || (t.type != dtype::f32 && t.type != dtype::bf16 && t.type != dtype::f16))
            throw state_error(shown + ": tensor '" + name + "' has dtype " + std::string(dtype_name(t.type)) +
                              ", expected f32, bf16 or f16");
        const std::uint32_t ggml = t.type == dtype::f32 ? io::ggml_type::f32
                                 : t.type == dtype::bf16 ? io::ggml_type::bf16
                                                         : io::ggml_type::f16;
        io::ggml_to_f32(ggml, t.bytes.data(), file_values.size(), file_values.data());
        float* dst = values.data() + layout.entries[entries[layer]].offset;
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t i = 0; i < N; ++i)
                for (std::size_t j = 0; j < N; ++j)
                    dst[(h * N + i) * N + j] = transpose ? file_values[(h * N + j) * N + i] : file_values[(h * N + i) * N + j];
    }
    st.copy_values_from_host(values);
}

// The same from a file on disk (.pth or safetensors, told apart by content).
template <memory_space Space>
void apply_state_tuning(basic_state<Space>& st, const std::filesystem::path& path) {
    const auto file = io::tensor_file::open(path);
    apply_state_tuning(st, file);
}

// Writes the matrix states of `st` as a state-tuning safetensors file (f32 `blocks.N.att.time_state`
// [H, N, N], in the file orientation above), the inverse of apply_state_tuning.
template <memory_space Space>
void save_state_tuning(const basic_state<Space>& st, const std::filesystem::path& path) {
    const state_layout& layout = st.layout();
    const bool transpose = detail::time_state_transposed(layout, path.string());
    const std::size_t H = layout.n_head, N = layout.head_size;
    std::vector<float> values(layout.total);
    st.copy_values_to_host(values);
    const auto entries = matrix_state_entries(layout);
    std::vector<std::vector<float>> data(entries.size(), std::vector<float>(H * N * N));
    std::vector<io::tensor_to_write> out;
    for (std::size_t layer = 0; layer < entries.size(); ++layer) {
        const float* src = values.data() + layout.entries[entries[layer]].offset;
        auto& d = data[layer];
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t i = 0; i < N; ++i)
                for (std::size_t j = 0; j < N; ++j)
                    d[(h * N + i) * N + j] = transpose ? src[(h * N + j) * N + i] : src[(h * N + i) * N + j];
        out.push_back({"blocks." + std::to_string(layer) + ".att.time_state", dtype::f32,
                       {static_cast<std::int64_t>(H), static_cast<std::int64_t>(N), static_cast<std::int64_t>(N)},
                       std::as_bytes(std::span(d))});
    }
    io::write_safetensors(path, out, {{"note", "state-tuning file written by rwkv"}});
}

}  // namespace rwkv
