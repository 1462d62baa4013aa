// src/cuda/weights.cuh — reading one weight of any storage type on the device (core/dtype.hpp,
// core/quant.hpp give the formats).
#pragma once

#include <cuda_fp16.h>

#include "common.cuh"

namespace rwkv::cuda_kernels::detail {

__device__ __forceinline__ float bf16_to_float(std::uint16_t bits) { return __uint_as_float(std::uint32_t{bits} << 16); }
__device__ __forceinline__ float f16_to_float(std::uint16_t bits) {
    return __half2float(__ushort_as_half(bits));
}

// The code of weight j of a quantized row (core/quant.hpp: int4 keeps, in the 16 bytes of block b,
// weight 32b + i in the low nibble of byte i and weight 32b + 16 + i in its high nibble, each + 8).
__device__ __forceinline__ int quant_code(const std::int8_t* row, std::size_t j, bool int4) {
    if (!int4) return row[j];
    const auto* blk = reinterpret_cast<const std::uint8_t*>(row) + j / 32 * 16;
    const std::size_t in = j % 32;
    return (in < 16 ? (blk[in] & 15) : (blk[in - 16] >> 4)) - 8;
}

// Weight (i, j) of m as f32.
__device__ __forceinline__ float weight_at(const weight_matrix& m, std::size_t i, std::size_t j) {
    switch (m.type) {
        case weight_type::f32: return static_cast<const float*>(m.data)[i * m.stride + j];
        case weight_type::bf16: return bf16_to_float(static_cast<const std::uint16_t*>(m.data)[i * m.stride + j]);
        case weight_type::f16: return f16_to_float(static_cast<const std::uint16_t*>(m.data)[i * m.stride + j]);
        case weight_type::int8:
        case weight_type::int4: {
            const auto* row = static_cast<const std::int8_t*>(m.data) + i * m.stride;
            return m.scales[i * m.scale_stride + j / 32] *
                   static_cast<float>(quant_code(row, j, m.type == weight_type::int4));
        }
    }
    return 0.0f;
}

}  // namespace rwkv::cuda_kernels::detail
