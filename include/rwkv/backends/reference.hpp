// rwkv/backends/reference.hpp — the reference backend: every op as plain loops.
#pragma once

#include "rwkv/backends/reference/cache.hpp"
#include "rwkv/backends/reference/embedding.hpp"
#include "rwkv/backends/reference/gold_attention.hpp"
#include "rwkv/backends/reference/linear.hpp"
#include "rwkv/backends/reference/map.hpp"
#include "rwkv/backends/reference/norm.hpp"
#include "rwkv/backends/reference/wkv4.hpp"
#include "rwkv/backends/reference/wkv6.hpp"
#include "rwkv/backends/reference/wkv7.hpp"
