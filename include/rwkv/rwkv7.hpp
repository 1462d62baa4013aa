// <rwkv/rwkv7.hpp> — everything needed to load and run RWKV-7 "Goose" models.
//
//   auto m  = rwkv::rwkv7::model<>::load("model.pth");     // reference backend, f32 weights
//   auto st = m.make_state();
//   auto ws = m.make_workspace();
//   std::vector<float> logits(m.cfg().n_vocab);
//   m.forward(tokens, st, ws, logits);                        // prefill; then one token at a time
#pragma once

#include "rwkv/backends/reference.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "rwkv/state/state_file.hpp"
