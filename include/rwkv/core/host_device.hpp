// rwkv/core/host_device.hpp — marks code that both the host and a CUDA device may call.
//
// The element-wise functors (ops/functors.hpp) and the scalar functions they use are written once:
// a host backend calls them in its loops, and a CUDA backend instantiates the same structs inside
// its separately compiled kernels. Under nvcc they get both execution spaces; elsewhere the mark
// is empty.
#pragma once

#ifdef __CUDACC__
#define RWKV_HOST_DEVICE __host__ __device__
#else
#define RWKV_HOST_DEVICE
#endif
