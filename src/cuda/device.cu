// src/cuda/device.cu — the device, its memory (cuda_space's functions) and the per-thread stream.
#include <algorithm>
#include <cstring>
#include <new>

#include "common.cuh"

namespace rwkv::cuda_kernels {
namespace detail {

namespace {
thread_local cudaStream_t thread_stream = cudaStreamPerThread;
}

cudaStream_t stream() noexcept { return thread_stream; }

namespace {
struct scratch_buffer {
    void* data = nullptr;
    std::size_t bytes = 0;
    ~scratch_buffer() { (void)cudaFree(data); }  // at thread exit; the context may already be gone
};
thread_local scratch_buffer scratch;
}  // namespace

void* thread_scratch(std::size_t bytes) {
    if (bytes > scratch.bytes) {
        // cudaFree waits for the device, so no kernel still reads the old buffer.
        check(cudaFree(scratch.data), "cudaFree");
        scratch.data = nullptr;
        scratch.bytes = 0;
        const std::size_t grown = bytes + bytes / 4;
        check(cudaMalloc(&scratch.data, grown), "cudaMalloc (scratch)");
        scratch.bytes = grown;
    }
    return scratch.data;
}

void fail(const char* what, cudaError_t e) {
    throw rwkv::error(std::string("CUDA: ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                      cudaGetErrorString(e) + ")");
}

}  // namespace detail

using detail::check;

void set_stream(void* s) noexcept { detail::thread_stream = s ? static_cast<cudaStream_t>(s) : cudaStreamPerThread; }
void* current_stream() noexcept {
    return detail::thread_stream == cudaStreamPerThread ? nullptr : static_cast<void*>(detail::thread_stream);
}

int device_count() noexcept {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();  // clear it: no driver or no device is an answer, not an error
        return 0;
    }
    return n;
}

device_properties properties(int device) {
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
    device_properties out;
    std::memcpy(out.name, p.name, std::min(sizeof out.name - 1, std::strlen(p.name)));
    out.compute_major = p.major;
    out.compute_minor = p.minor;
    out.multiprocessors = p.multiProcessorCount;
    out.global_memory_bytes = p.totalGlobalMem;
    int clock_khz = 0, bus_bits = 0;
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) == cudaSuccess &&
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) == cudaSuccess)
        out.memory_bandwidth_bytes_per_s = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);  // double data rate
    else
        (void)cudaGetLastError();
    return out;
}

void* allocate(std::size_t bytes) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        throw std::bad_alloc();
    }
    check(e, "cudaMalloc");
    return p;
}

void deallocate(void* p) noexcept { (void)cudaFree(p); }

// Host-to-device copies from pageable memory: the source may be reused when this returns, so wait.
void copy_from_host(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, detail::stream()), "copy to the device");
    check(cudaStreamSynchronize(detail::stream()), "copy to the device");
}

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, detail::stream()), "copy to the host");
    check(cudaStreamSynchronize(detail::stream()), "copy to the host");
}

void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, detail::stream()), "copy on the device");
}

void fill(void* dst, unsigned char value, std::size_t bytes) {
    if (bytes == 0) return;
    check(cudaMemsetAsync(dst, value, bytes, detail::stream()), "cudaMemsetAsync");
}

void synchronize() { check(cudaStreamSynchronize(detail::stream()), "cudaStreamSynchronize"); }

}  // namespace rwkv::cuda_kernels
