// rwkv/core/architecture.hpp — the architectures this library knows, by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rwkv {

enum class architecture : std::uint8_t { rwkv4, rwkv5, rwkv6, rwkv7, goldfinch };

constexpr std::string_view architecture_name(architecture a) noexcept {
    switch (a) {
        case architecture::rwkv4: return "rwkv4";
        case architecture::rwkv5: return "rwkv5";
        case architecture::rwkv6: return "rwkv6";
        case architecture::rwkv7: return "rwkv7";
        case architecture::goldfinch: return "goldfinch";
    }
    return "unknown";
}

constexpr std::optional<architecture> architecture_from_name(std::string_view s) noexcept {
    for (auto a : {architecture::rwkv4, architecture::rwkv5, architecture::rwkv6, architecture::rwkv7,
                   architecture::goldfinch})
        if (architecture_name(a) == s) return a;
    return std::nullopt;
}

}  // namespace rwkv
