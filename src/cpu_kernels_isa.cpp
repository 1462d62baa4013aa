// One instruction set's copy of the cpu backend's SIMD kernels (include/rwkv/backends/cpu/
// simd_kernels.hpp). CMake compiles this file once per ISA with that ISA's flags and
// -DRWKV_CPU_ISA=avx512|avx2|sse2 (cmake/rwkv_cpu_kernels.cmake); each copy registers its table at
// start-up and rwkv::cpu::kernels() picks the best one the CPU supports.
#if !defined(RWKV_CPU_ISA)
#error "define RWKV_CPU_ISA (avx512, avx2 or sse2)"
#endif

#define RWKV_CPU_AVX512 3
#define RWKV_CPU_AVX2 2
#define RWKV_CPU_SSE2 1

#if RWKV_CPU_ISA == RWKV_CPU_AVX512
#define RWKV_CPU_ISA_NAMESPACE isa_avx512
#define RWKV_CPU_XSIMD_ARCH xsimd::avx512bw
#define RWKV_CPU_ISA_ID ::rwkv::cpu::isa::avx512
#elif RWKV_CPU_ISA == RWKV_CPU_AVX2
#define RWKV_CPU_ISA_NAMESPACE isa_avx2
#define RWKV_CPU_XSIMD_ARCH xsimd::fma3<xsimd::avx2>
#define RWKV_CPU_ISA_ID ::rwkv::cpu::isa::avx2
#elif RWKV_CPU_ISA == RWKV_CPU_SSE2
#define RWKV_CPU_ISA_NAMESPACE isa_sse2
#define RWKV_CPU_XSIMD_ARCH xsimd::sse2
#define RWKV_CPU_ISA_ID ::rwkv::cpu::isa::sse2
#else
#error "unknown RWKV_CPU_ISA"
#endif

#include "rwkv/backends/cpu/simd_kernels.hpp"

namespace {
const rwkv::cpu::register_table registration{&rwkv::cpu::RWKV_CPU_ISA_NAMESPACE::table()};
}  // namespace
