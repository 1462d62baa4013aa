// <rwkv/rwkv6.hpp> — everything needed to load and run RWKV-6 "Finch" models.
//
//   auto m  = rwkv::rwkv6::model<>::load("model.pth");     // reference backend, f32 weights
//   auto st = m.make_state();
//   auto ws = m.make_workspace();
//   std::vector<float> logits(m.cfg().n_vocab);
//   m.forward(tokens, st, ws, logits);
#pragma once

#include "rwkv/backends/reference.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/state/state_file.hpp"
