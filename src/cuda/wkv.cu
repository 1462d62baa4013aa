// src/cuda/wkv.cu — the recurrences: RWKV-4's WKV, the RWKV-5/6 and RWKV-7 multi-head scans, the
// RWKV-7 bonus term (ops/wkv4.hpp, ops/wkv6.hpp, ops/wkv7.hpp state the math). Sequential over the
// tokens of the call; per token the state stays in registers.
#include "common.cuh"

namespace rwkv::cuda_kernels {
namespace {

using detail::agent_chunk;

// RWKV-4: one thread per (channel, agent), the max-shifted form of docs/spec/rwkv.md §2.3; the agent's
// state entries are aa, bb, pp.
__global__ void wkv4_kernel(agent_chunk agents, const float* w, const float* u, const_matrix k, const_matrix v,
                            matrix out) {
    const std::size_t c = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x, g = blockIdx.y;
    if (c >= k.cols) return;
    float *aa = agents.entry[0][g], *bb = agents.entry[1][g], *pp = agents.entry[2][g];
    float a = aa[c], b = bb[c], p = pp[c];
    const float wc = w[c], uc = u[c];
    for (std::size_t t = agents.first[g]; t < agents.first[g] + agents.rows[g]; ++t) {
        const float kt = k.data[t * k.stride + c], vt = v.data[t * v.stride + c];
        // Output: old sums plus the bonus e^(u + k) for the current token.
        const float q = fmaxf(p, uc + kt);
        const float e1 = expf(p - q), e2 = expf(uc + kt - q);
        out.data[t * out.stride + c] = (e1 * a + e2 * vt) / (e1 * b + e2);
        // State: decay by e^w, add e^k.
        const float q2 = fmaxf(p + wc, kt);
        const float f1 = expf(p + wc - q2), f2 = expf(kt - q2);
        a = f1 * a + f2 * vt;
        b = f1 * b + f2;
        p = q2;
    }
    aa[c] = a;
    bb[c] = b;
    pp[c] = p;
}

// RWKV-5/6: a block per (head, agent), thread j keeps the state's value column S[·, j] in registers.
//   y_j = Σ_i r_i (u_i k_i v_j + S_ij),  S_ij ← k_i v_j + w_i S_ij
template <std::size_t N>
__global__ void wkv6_kernel(agent_chunk agents, const_matrix r, const_matrix w, const_matrix k, const_matrix v,
                            const float* u, matrix y) {
    __shared__ float rs[N], ws[N], ks[N], us[N];
    const std::size_t h = blockIdx.x, g = blockIdx.y, j = threadIdx.x, c0 = h * N;
    float* S = agents.entry[0][g] + h * N * N;
    float s[N];
#pragma unroll
    for (std::size_t i = 0; i < N; ++i) s[i] = S[i * N + j];
    us[j] = u[c0 + j];
    for (std::size_t t = agents.first[g]; t < agents.first[g] + agents.rows[g]; ++t) {
        __syncthreads();  // the previous token's values are read
        rs[j] = r.data[t * r.stride + c0 + j];
        ws[j] = w.data[t * w.stride + c0 + j];
        ks[j] = k.data[t * k.stride + c0 + j];
        __syncthreads();
        const float vj = v.data[t * v.stride + c0 + j];
        float out = 0.0f;
#pragma unroll
        for (std::size_t i = 0; i < N; ++i) {
            const float kv = ks[i] * vj;
            out += rs[i] * (us[i] * kv + s[i]);
            s[i] = kv + ws[i] * s[i];
        }
        y.data[t * y.stride + c0 + j] = out;
    }
#pragma unroll
    for (std::size_t i = 0; i < N; ++i) S[i * N + j] = s[i];
}

// RWKV-7, the generalized delta rule: a block per (head, agent), thread i keeps the state's row S[i, ·].
//   sa = Σ_j S_ij a_j,  S_ij ← S_ij w_j + sa b_j + v_i k_j,  y_i = Σ_j S_ij r_j
template <std::size_t N>
__global__ void wkv7_kernel(agent_chunk agents, const_matrix r, const_matrix w, const_matrix k, const_matrix v,
                            const_matrix a, const_matrix b, matrix y) {
    __shared__ float rs[N], ws[N], ks[N], as[N], bs[N];
    const std::size_t h = blockIdx.x, g = blockIdx.y, i = threadIdx.x, c0 = h * N;
    float* S = agents.entry[0][g] + h * N * N + i * N;
    float s[N];
#pragma unroll
    for (std::size_t j = 0; j < N; ++j) s[j] = S[j];
    for (std::size_t t = agents.first[g]; t < agents.first[g] + agents.rows[g]; ++t) {
        __syncthreads();
        rs[i] = r.data[t * r.stride + c0 + i];
        ws[i] = w.data[t * w.stride + c0 + i];
        ks[i] = k.data[t * k.stride + c0 + i];
        as[i] = a.data[t * a.stride + c0 + i];
        bs[i] = b.data[t * b.stride + c0 + i];
        __syncthreads();
        const float vi = v.data[t * v.stride + c0 + i];
        float sa = 0.0f;
#pragma unroll
        for (std::size_t j = 0; j < N; ++j) sa += s[j] * as[j];
        float out = 0.0f;
#pragma unroll
        for (std::size_t j = 0; j < N; ++j) {
            s[j] = s[j] * ws[j] + sa * bs[j] + vi * ks[j];
            out += s[j] * rs[j];
        }
        y.data[t * y.stride + c0 + i] = out;
    }
#pragma unroll
    for (std::size_t j = 0; j < N; ++j) S[j] = s[j];
}

// y_i += (Σ_{j in the head} r_j k_j (r_k)_j) · v_i: a block per (token, head).
__global__ void wkv7_bonus_kernel(std::size_t n, const_matrix r, const_matrix k, const_matrix v, const float* r_k,
                                  matrix y) {
    __shared__ float scratch[32];
    const std::size_t t = blockIdx.x, c0 = blockIdx.y * n;
    float d = 0.0f;
    for (std::size_t j = threadIdx.x; j < n; j += blockDim.x)
        d += r.data[t * r.stride + c0 + j] * k.data[t * k.stride + c0 + j] * r_k[c0 + j];
    const float dot = detail::block_sum(d, scratch);
    for (std::size_t i = threadIdx.x; i < n; i += blockDim.x)
        y.data[t * y.stride + c0 + i] += dot * v.data[t * v.stride + c0 + i];
}

template <class Fn>
void with_head_size(std::size_t n, Fn&& fn) {
    switch (n) {
        case 32: return fn(std::integral_constant<std::size_t, 32>{});
        case 64: return fn(std::integral_constant<std::size_t, 64>{});
        case 128: return fn(std::integral_constant<std::size_t, 128>{});
        default: throw rwkv::error("CUDA: head size " + std::to_string(n) + " is not compiled in (32, 64, 128)");
    }
}

void launch_wkv4(const agent_chunk& c, const float* w, const float* u, const_matrix k, const_matrix v, matrix out) {
    const dim3 grid(detail::blocks_for(k.cols, 128), c.count);
    wkv4_kernel<<<grid, 128, 0, detail::stream()>>>(c, w, u, k, v, out);
    detail::check_launch("wkv4");
}

void launch_wkv6(std::size_t head_size, const agent_chunk& c, std::size_t heads, const_matrix r, const_matrix w,
                 const_matrix k, const_matrix v, const float* u, matrix y) {
    with_head_size(head_size, [&](auto n) {
        const dim3 grid(static_cast<unsigned>(heads), c.count);
        wkv6_kernel<n()><<<grid, static_cast<unsigned>(n()), 0, detail::stream()>>>(c, r, w, k, v, u, y);
    });
    detail::check_launch("wkv6");
}

void launch_wkv7(std::size_t head_size, const agent_chunk& c, std::size_t heads, const_matrix r, const_matrix w,
                 const_matrix k, const_matrix v, const_matrix a, const_matrix b, matrix y) {
    with_head_size(head_size, [&](auto n) {
        const dim3 grid(static_cast<unsigned>(heads), c.count);
        wkv7_kernel<n()><<<grid, static_cast<unsigned>(n()), 0, detail::stream()>>>(c, r, w, k, v, a, b, y);
    });
    detail::check_launch("wkv7");
}

}  // namespace

void wkv4(float* aa, float* bb, float* pp, const float* w, const float* u, const_matrix k, const_matrix v,
          matrix out) {
    if (k.rows == 0 || k.cols == 0) return;
    launch_wkv4(detail::single_agent(k.rows, aa, bb, pp), w, u, k, v, out);
}

void wkv4_agents(const agent_slots& aa, const agent_slots& bb, const agent_slots& pp, const float* w, const float* u,
                 const_matrix k, const_matrix v, matrix out) {
    if (k.cols == 0) return;
    detail::for_each_chunk(aa, {&bb, &pp}, [&](const agent_chunk& c) { launch_wkv4(c, w, u, k, v, out); });
}

void wkv6(std::size_t head_size, float* state, std::size_t heads, const_matrix r, const_matrix w, const_matrix k,
          const_matrix v, const float* u, matrix y) {
    if (r.rows == 0 || heads == 0) return;
    launch_wkv6(head_size, detail::single_agent(r.rows, state), heads, r, w, k, v, u, y);
}

void wkv6_agents(std::size_t head_size, const agent_slots& state, const_matrix r, const_matrix w, const_matrix k,
                 const_matrix v, const float* u, matrix y) {
    const std::size_t heads = head_size ? r.cols / head_size : 0;
    if (heads == 0) return;
    detail::for_each_chunk(state, {}, [&](const agent_chunk& c) { launch_wkv6(head_size, c, heads, r, w, k, v, u, y); });
}

void wkv7(std::size_t head_size, float* state, std::size_t heads, const_matrix r, const_matrix w, const_matrix k,
          const_matrix v, const_matrix a, const_matrix b, matrix y) {
    if (r.rows == 0 || heads == 0) return;
    launch_wkv7(head_size, detail::single_agent(r.rows, state), heads, r, w, k, v, a, b, y);
}

void wkv7_agents(std::size_t head_size, const agent_slots& state, const_matrix r, const_matrix w, const_matrix k,
                 const_matrix v, const_matrix a, const_matrix b, matrix y) {
    const std::size_t heads = head_size ? r.cols / head_size : 0;
    if (heads == 0) return;
    detail::for_each_chunk(state, {},
                           [&](const agent_chunk& c) { launch_wkv7(head_size, c, heads, r, w, k, v, a, b, y); });
}

void wkv7_bonus(std::size_t head_size, const_matrix r, const_matrix k, const_matrix v, const float* r_k, matrix y) {
    if (r.rows == 0 || head_size == 0) return;
    const dim3 grid(static_cast<unsigned>(r.rows), static_cast<unsigned>(r.cols / head_size));
    wkv7_bonus_kernel<<<grid, 128, 0, detail::stream()>>>(head_size, r, k, v, r_k, y);
    detail::check_launch("wkv7_bonus");
}

}  // namespace rwkv::cuda_kernels
