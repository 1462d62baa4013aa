// src/c_api/boundary.hpp — the C boundary: no exception crosses it, every failure becomes an
// rwkv_status plus a thread-local message (rwkv_last_error).
#pragma once

#include <cstring>
#include <string>
#include <type_traits>

#include "rwkv/core/error.hpp"
#include "rwkv/rwkv.h"

namespace rwkv_c {

// Clears this thread's message (every status-returning call starts with it).
void clear_error() noexcept;
// Records `message` as this thread's last error and returns `status`.
rwkv_status fail(rwkv_status status, const char* message) noexcept;
// The status and message for the exception being handled (call inside a catch block only).
rwkv_status fail_with_current_exception() noexcept;

// Runs body (returning rwkv_status) with the message cleared and every exception caught.
template <class Body>
rwkv_status guarded(Body&& body) noexcept {
    clear_error();
    try {
        return body();
    } catch (...) {
        return fail_with_current_exception();
    }
}

// Argument checks inside guarded bodies: throw rwkv::invalid_argument naming the call.
inline void require(bool ok, const char* call, const char* what) {
    if (!ok) throw rwkv::invalid_argument(std::string(call) + ": " + what);
}

template <class T>
T& deref(T* handle, const char* call, const char* name) {
    if (!handle) throw rwkv::invalid_argument(std::string(call) + ": " + name + " is NULL");
    return *handle;
}

// The integer a C caller stored in an enum field. Reading it as the enum itself is undefined in C++
// when the value is none of the enumerators' range (C allows any int there), so read the bytes.
template <class Enum>
auto enum_value(const Enum& e) noexcept {
    std::underlying_type_t<Enum> v;
    std::memcpy(&v, &e, sizeof v);
    return v;
}

}  // namespace rwkv_c
