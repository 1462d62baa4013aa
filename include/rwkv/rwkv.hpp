// <rwkv/rwkv.hpp> — the run-time entry point: open any supported checkpoint, detect its
// architecture, and run it through one interface (rwkv::any_model). Also brings in the
// tokenizers, the sampler and state files.
#pragma once

#include "rwkv/generate/sampler.hpp"
#include "rwkv/any_model.hpp"
#include "rwkv/goldfinch.hpp"
#include "rwkv/rwkv4.hpp"
#include "rwkv/rwkv5.hpp"
#include "rwkv/rwkv6.hpp"
#include "rwkv/rwkv7.hpp"
#include "rwkv/state/state_file.hpp"
#include "rwkv/text/tokenizer.hpp"
