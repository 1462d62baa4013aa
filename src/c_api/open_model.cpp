// src/c_api/open_model.cpp — any_model::open alone: the translation unit that instantiates every
// model type, kept apart so that editing the rest of the C API recompiles quickly.
#include "handles.hpp"

namespace rwkv_c {

rwkv::any_model open_any_model(const char* path, const rwkv::open_options& options) {
    return rwkv::any_model::open(path, options);
}

}  // namespace rwkv_c
