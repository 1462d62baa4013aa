// rwkv/ops/observe.hpp — an optional op observer in the backend trait (core/backend.hpp).
//
// Every op front-end in ops/ takes a trailing `op_site where = op_site::current()`, a default
// argument and so evaluated at the caller: the model line that runs the op. op_site is
// std::source_location where the standard library has it; clang 14 with libstdc++ 12 lacks it
// (docs/contracts.md, "Toolchain traps"), and there it is a two-field stand-in filled by the
// __builtin_FILE/__builtin_LINE builtins, which default arguments also evaluate at the caller.
// A backend that wants to watch the forward pass (examples/teaching does, to print each step next
// to the line and equation that computes it) declares two const members:
//
//   void op_enter() const;                                      an op begins
//   void op_exit(std::string_view op, const op_site& where, const Out& out) const;
//                                                               it ended; `out` is what it wrote
//
// Composite ops (lora, ddlerp, channel_mix, layer_norm, mix_previous, …) call other ops, so
// enter/exit pairs nest; an observer that wants each op once at its call site keeps the outermost
// pair (depth 0). For every other backend both hooks are `if constexpr`-discarded and compile to
// nothing; the unused op_site is a constant the optimiser drops.
#pragma once

#include <string_view>
#include <version>
#if __has_include(<source_location>)
#include <source_location>
#endif

namespace rwkv::ops {

#if defined(__cpp_lib_source_location)
using op_site = std::source_location;
#else
class op_site {
public:
    static constexpr op_site current(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE()) noexcept {
        return op_site(file, line);
    }
    constexpr op_site() noexcept = default;
    constexpr const char* file_name() const noexcept { return file_; }
    constexpr unsigned line() const noexcept { return line_; }

private:
    constexpr op_site(const char* file, unsigned line) noexcept : file_(file), line_(line) {}
    const char* file_ = "";
    unsigned line_ = 0;
};
#endif

template <class Backend>
concept observing_backend = requires(const Backend& be) { be.op_enter(); };

template <class Backend>
inline void op_enter([[maybe_unused]] const Backend& be) {
    if constexpr (observing_backend<Backend>) be.op_enter();
}

template <class Backend, class Out>
inline void op_exit([[maybe_unused]] const Backend& be, [[maybe_unused]] std::string_view op,
                    [[maybe_unused]] const op_site& where, [[maybe_unused]] const Out& out) {
    if constexpr (observing_backend<Backend>) be.op_exit(op, where, out);
}

}  // namespace rwkv::ops
