// Reference element-wise map: a double loop over rows and channels.
#pragma once

#include "rwkv/ops/map.hpp"

namespace rwkv::ops {

template <>
struct map_kernel<backends::reference> {
    template <class Fn, class... In>
    static void run(const backends::reference&, matrix_view<float> out, Fn& fn, const In&... in) {
        for (std::size_t t = 0; t < out.rows; ++t)
            for (std::size_t c = 0; c < out.cols; ++c) out(t, c) = fn(element(in, t, c)...);
    }
};

}  // namespace rwkv::ops
