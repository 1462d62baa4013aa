// <rwkv/goldfinch.hpp> — everything needed to load and run GoldFinch (Finch-C2 + GOLD) models.
//
//   auto m  = rwkv::goldfinch::model<>::load("goldfinch.pth", rwkv::goldfinch::read_config("cfg.json"));
//   auto st = m.make_state();          // reserves options::max_context tokens of compressed cache
//   auto ws = m.make_workspace();
//   std::vector<float> logits(m.cfg().n_vocab);
//   m.forward(tokens, st, ws, logits);
#pragma once

#include "rwkv/backends/reference.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/state/state_file.hpp"
