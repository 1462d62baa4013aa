// The smallest complete backend: how a new backend joins the backend trait (docs/design.md).
//
//   rwkv-example-custom-backend examples/models/fortune-v7-c128-l2.safetensors
//
// A backend is a type with a `name`; every op of ops/ declares a kernel template X_kernel<Backend>
// whose primary definition fails to compile, and the backend specialises the ones it runs. This one
// computes the matrix products of f32 weights with Eigen and takes every other kernel from the
// reference backend (it derives from it, so its kernels accept this backend as a reference&). Asking
// it for bf16 or int8 weights does not compile: linear_kernel<eigen_backend, bf16> has no definition.
//
// The program runs a prompt through RWKV-7 on this backend and on the reference backend, and prints
// how far apart their logits are (float sums in Eigen, double sums in the reference).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

#include "rwkv/rwkv7.hpp"

struct eigen_backend : rwkv::backends::reference {
    static constexpr std::string_view name = "eigen";
};

namespace rwkv::ops {

// The matrix products (ops/linear.hpp): y = x Wᵀ for weights stored [out, in], and y = x M for LoRA
// factors stored [in, out]. Views are row-major with a row stride, which Eigen maps directly.
template <>
struct linear_kernel<eigen_backend, float> {
    using row_major = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using stride = Eigen::OuterStride<>;
    static Eigen::Map<const row_major, 0, stride> map(const_matrix_view<float> m) {
        return {m.data, static_cast<Eigen::Index>(m.rows), static_cast<Eigen::Index>(m.cols),
                stride(static_cast<Eigen::Index>(m.stride))};
    }
    static Eigen::Map<row_major, 0, stride> map(matrix_view<float> m) {
        return {m.data, static_cast<Eigen::Index>(m.rows), static_cast<Eigen::Index>(m.cols),
                stride(static_cast<Eigen::Index>(m.stride))};
    }
    static void linear(const eigen_backend&, const_matrix_view<float> w, const_matrix_view<float> x,
                       matrix_view<float> y) {
        map(y).noalias() = map(x) * map(w).transpose();
    }
    static void project(const eigen_backend&, const_matrix_view<float> x, const_matrix_view<float> m,
                        matrix_view<float> y) {
        map(y).noalias() = map(x) * map(m);
    }
};

// Everything else: the reference kernels.
template <> struct map_kernel<eigen_backend> : map_kernel<backends::reference> {};
template <> struct norm_kernel<eigen_backend> : norm_kernel<backends::reference> {};
template <> struct embedding_kernel<eigen_backend> : embedding_kernel<backends::reference> {};
template <> struct token_shift_kernel<eigen_backend> : token_shift_kernel<backends::reference> {};
template <> struct wkv4_kernel<eigen_backend> : wkv4_kernel<backends::reference> {};
template <std::size_t N> struct wkv6_kernel<eigen_backend, N> : wkv6_kernel<backends::reference, N> {};
template <std::size_t N> struct wkv7_kernel<eigen_backend, N> : wkv7_kernel<backends::reference, N> {};
template <> struct wkv7_bonus_kernel<eigen_backend> : wkv7_bonus_kernel<backends::reference> {};
template <std::size_t N> struct gold_attention_kernel<eigen_backend, N> : gold_attention_kernel<backends::reference, N> {};

}  // namespace rwkv::ops

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL.safetensors (an RWKV-7 checkpoint)\n", argv[0]);
        return 2;
    }
    try {
        const auto mine = rwkv::rwkv7::model<eigen_backend>::load(argv[1]);
        const auto reference = rwkv::rwkv7::model<>::load(argv[1]);
        const std::vector<std::int32_t> prompt{72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100};
        auto a = mine.make_state();
        auto b = reference.make_state();
        const auto la = mine.forward(prompt, a);
        const auto lb = reference.forward(prompt, b);
        float diff = 0.0f;
        for (std::size_t i = 0; i < la.size(); ++i) diff = std::max(diff, std::abs(la[i] - lb[i]));
        std::printf("backend %s: %zu logits, max |difference| from the reference backend %.3g\n",
                    std::string(eigen_backend::name).c_str(), la.size(), static_cast<double>(diff));
        return diff <= 1e-3f ? 0 : 1;
    } catch (const rwkv::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
