// <rwkv/embedding.hpp> — EmbeddingRWKV text embeddings and the state-based RWKV-Reranker.
//
//   namespace er = rwkv::embedding_rwkv;
//   auto m  = er::model<>::load("rwkv0b1-emb-curriculum.pth");   // reference backend, f32 weights
//   auto e  = m.embed(tokens_with_eos);                           // [C], the [RETR] head
//   float s = er::cosine_similarity(e, m.embed(other, er::task::retrieval));
//
//   auto rr = er::reranker<>::load("rwkv0b1-reranker.pth");
//   auto st = m.make_state();  auto ws = m.make_workspace();
//   m.advance(doc_and_query_with_eos, st, ws);                    // online; or fork a cached doc state
//   float p = er::reranker<>::score(rr.logit(st));                // sigmoid of the logit
#pragma once

#include "rwkv/backends/reference.hpp"
#include "rwkv/core/error.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/models/embedding.hpp"
#include "rwkv/state/state_file.hpp"
