// The cpu backend's portable kernel table (include/rwkv/backends/cpu/kernel_table.hpp), compiled once
// into rwkv::cpu_kernels: programs that link it see only its declaration (RWKV_CPU_KERNELS_COMPILED),
// so none of their translation units instantiates the portable loops again. Plain flags: it is the
// table every CPU runs.
#define RWKV_CPU_DEFINE_PORTABLE_TABLE
#include "rwkv/backends/cpu/kernel_table.hpp"
