// One backend × architecture of rwkv::any_model (every precision): the compiled library builds this
// file once per line of RWKV_ANY_MODEL_EACH (include/rwkv/any_model/open.hpp), with
// RWKV_ANY_MODEL_BACKEND and RWKV_ANY_MODEL_ARCH naming the pair, so the ten instantiations compile in
// parallel and no user translation unit compiles them again (docs/compile-times.md).
#include "rwkv/any_model/open.hpp"

namespace rwkv::detail {
RWKV_ANY_MODEL_OPEN_ERASED(RWKV_ANY_MODEL_BACKEND, RWKV_ANY_MODEL_ARCH)
}  // namespace rwkv::detail
