// rwkv/ops/norm.hpp — LayerNorm, GroupNorm and per-group L2 normalisation (docs/spec/rwkv.md §1.2).
//
//   LN(x)  = (x − mean) / sqrt(var + eps) · γ + β     over all C channels, biased variance, eps 1e-5
//   GN_H(x): the same per group of C/H contiguous channels, eps 64e-5 for every ln_x
//            (docs/spec/rwkv.md §6 item 2)
//   normalize(x) = x / max(‖x‖₂, 1e-12) per group       (RWKV-7's removal key κ̂, torch F.normalize)
//   RMS(x) = x / (‖x‖₂/√n + 1e-8), no weight            (GoldFinch, docs/spec/goldfinch.md §1.1:
//                                                        eps outside the root)
#pragma once

#include <cassert>
#include <cmath>
#include <cstddef>
#include <span>

#include "rwkv/core/backend.hpp"
#include "rwkv/core/tensor.hpp"
#include "rwkv/ops/observe.hpp"
#include "rwkv/ops/views.hpp"

namespace rwkv::ops {

inline constexpr float layer_norm_eps = 1e-5f;
inline constexpr float group_norm_eps = 64e-5f;  // = 1e-5 · head_size_divisor² (8²), docs/spec/rwkv.md §3.3
inline constexpr float l2_norm_eps = 1e-12f;
inline constexpr float rms_norm_eps = 1e-8f;

// y = (x − mean) / √(var + eps) ⊙ weight + bias over one group of n values, host memory: two-pass
// mean and biased variance in double, as torch's LayerNorm/GroupNorm formula. The reference
// backend's kernel is this per row and group; the load-time fold of ln0 into the embedding runs it
// too. y may alias x.
inline void normalize_on_host(std::span<const float> x, std::span<const float> weight, std::span<const float> bias,
                              float eps, std::span<float> y) noexcept {
    const std::size_t n = x.size();
    double mean = 0.0;
    for (float v : x) mean += v;
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (float v : x) {
        const double d = v - mean;
        var += d * d;
    }
    var /= static_cast<double>(n);  // biased variance, as torch
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
    for (std::size_t c = 0; c < n; ++c) y[c] = static_cast<float>((x[c] - mean) * inv * weight[c] + bias[c]);
}

template <class Backend>
struct norm_kernel {
    static_assert(dependent_false<Backend>, "rwkv: this backend has no normalisation kernels");
};

// y = GN over `groups` equal groups of each row (groups = 1 is LayerNorm). y may alias x.
template <backend Backend>
void group_norm(const Backend& be, const_activations<Backend> x, channel_vector<Backend> weight,
                channel_vector<Backend> bias, std::size_t groups, float eps, activations<Backend> y,
                op_site where = op_site::current()) {
    assert(x.rows == y.rows && x.cols == y.cols && weight.size() == x.cols && bias.size() == x.cols);
    assert(groups > 0 && x.cols % groups == 0);
    op_enter(be);
    norm_kernel<Backend>::group_norm(be, x, weight, bias, groups, eps, y);
    op_exit(be, "group_norm", where, y);
}

template <backend Backend>
void layer_norm(const Backend& be, const_activations<Backend> x, channel_vector<Backend> weight,
                channel_vector<Backend> bias, activations<Backend> y, op_site where = op_site::current()) {
    op_enter(be);
    group_norm(be, x, weight, bias, 1, layer_norm_eps, y);
    op_exit(be, "layer_norm", where, y);
}

// x[t][g·n : (g+1)·n] /= max(‖·‖₂, eps), in place, for groups of n channels.
template <backend Backend>
void l2_normalize_groups(const Backend& be, activations<Backend> x, std::size_t n, float eps = l2_norm_eps,
                         op_site where = op_site::current()) {
    assert(n > 0 && x.cols % n == 0);
    op_enter(be);
    norm_kernel<Backend>::l2_normalize_groups(be, x, n, eps);
    op_exit(be, "l2_normalize_groups", where, x);
}

// y[t] = x[t] / (‖x[t]‖₂ / √cols + eps). y may alias x.
template <backend Backend>
void rms_norm(const Backend& be, const_activations<Backend> x, activations<Backend> y, float eps = rms_norm_eps,
              op_site where = op_site::current()) {
    assert(x.rows == y.rows && x.cols == y.cols);
    op_enter(be);
    norm_kernel<Backend>::rms_norm(be, x, y, eps);
    op_exit(be, "rms_norm", where, y);
}

}  // namespace rwkv::ops
