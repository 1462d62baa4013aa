// rwkv/io/tensor_entry.hpp — one tensor of a checkpoint: name, element type, shape, and its bytes in
// place inside the loaded file. Produced by the .pth and .safetensors readers; see tensor_file.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rwkv/core/dtype.hpp"

namespace rwkv::io {

struct tensor_entry {
    std::string name;
    rwkv::dtype type = rwkv::dtype::f32;
    std::vector<std::int64_t> shape;   // as stored ([1,1,C] stays 3-D); a scalar has shape {}
    std::span<const std::byte> bytes;  // numel()·dtype_size(type) bytes inside the file; may be unaligned

    // A block-quantized matrix (io/quantized_tensors.hpp, layout in core/quant.hpp) has quant_bits
    // 8 or 4: `shape` is then its logical shape (rows = numel / shape.back(), cols = shape.back()),
    // `type` is i8 (int8) or u8 (int4), `bytes` holds rows × quant_row_bytes codes and `scales`
    // rows × quant_row_blocks f32 scales.
    unsigned quant_bits = 0;
    std::span<const std::byte> scales;

    // Product of the shape (1 for a scalar). The readers have checked that it does not overflow.
    std::int64_t numel() const noexcept {
        std::int64_t n = 1;
        for (std::int64_t d : shape) n *= d;
        return n;
    }
};

}  // namespace rwkv::io
