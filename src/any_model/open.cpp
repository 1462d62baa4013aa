// any_model::open for the compiled library rwkv::any_model: the checks and the dispatch, with every
// model instantiated in instance.cpp's objects instead of here (include/rwkv/any_model/open.hpp).
#define RWKV_ANY_MODEL_DEFINE_OPEN
#include "rwkv/any_model/open.hpp"
