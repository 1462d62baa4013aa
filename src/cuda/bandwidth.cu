// src/cuda/bandwidth.cu — the device's measured read bandwidth, the roofline that decode fractions
// are reported against (as bench measures the host's on the cpu backend).
#include <algorithm>

#include "common.cuh"

namespace rwkv::cuda_kernels {
namespace {

// Every thread reads 16-byte words in a grid-stride loop and folds them into one word, written only
// when it cannot be zero-checked away (a sink the compiler must keep).
__global__ void read_kernel(const uint4* data, std::size_t words, unsigned* sink) {
    unsigned acc = 0;
    for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < words;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const uint4 w = __ldg(data + i);
        acc ^= w.x ^ w.y ^ w.z ^ w.w;
    }
    if (acc == 0x9e3779b9u) *sink = acc;
}

}  // namespace

double read_bandwidth(std::size_t bytes, int repeats) {
    bytes = bytes / 16 * 16;
    if (bytes == 0 || repeats <= 0) return 0.0;
    void* data = allocate(bytes);
    void* sink = nullptr;
    cudaEvent_t start = nullptr, stop = nullptr;
    double best = 0.0;
    try {
        sink = allocate(sizeof(unsigned));
        fill(data, 1, bytes);
        detail::check(cudaEventCreate(&start), "cudaEventCreate");
        detail::check(cudaEventCreate(&stop), "cudaEventCreate");
        int sms = 0;
        detail::check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "cudaDeviceGetAttribute");
        const unsigned blocks = static_cast<unsigned>(sms) * 8, threads = 512;
        for (int r = 0; r <= repeats; ++r) {  // the first run warms up
            detail::check(cudaEventRecord(start, detail::stream()), "cudaEventRecord");
            read_kernel<<<blocks, threads, 0, detail::stream()>>>(static_cast<const uint4*>(data), bytes / 16,
                                                                 static_cast<unsigned*>(sink));
            detail::check_launch("read_bandwidth");
            detail::check(cudaEventRecord(stop, detail::stream()), "cudaEventRecord");
            detail::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
            float ms = 0.0f;
            detail::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
            if (r > 0 && ms > 0.0f) best = std::max(best, static_cast<double>(bytes) / (ms * 1e-3));
        }
    } catch (...) {
        if (start) cudaEventDestroy(start);
        if (stop) cudaEventDestroy(stop);
        deallocate(sink);
        deallocate(data);
        throw;
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    deallocate(sink);
    deallocate(data);
    return best;
}

}  // namespace rwkv::cuda_kernels
