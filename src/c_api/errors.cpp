// src/c_api/errors.cpp — status names, the version, and the thread-local last-error message.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>

#include "boundary.hpp"

namespace {

// A fixed buffer, not a std::string: recording an error never allocates, and nothing thread-local
// needs destroying at thread exit.
thread_local char last_error_message[1024] = "";

}  // namespace

namespace rwkv_c {

void clear_error() noexcept { last_error_message[0] = '\0'; }

rwkv_status fail(rwkv_status status, const char* message) noexcept {
    std::snprintf(last_error_message, sizeof last_error_message, "%s", message ? message : "");
    return status;
}

rwkv_status fail_with_current_exception() noexcept {
    try {
        throw;
    } catch (const rwkv::invalid_argument& e) {
        return fail(RWKV_ERROR_INVALID_ARGUMENT, e.what());
    } catch (const rwkv::io_error& e) {
        return fail(RWKV_ERROR_IO, e.what());
    } catch (const rwkv::format_error& e) {
        return fail(RWKV_ERROR_FORMAT, e.what());
    } catch (const rwkv::model_error& e) {
        return fail(RWKV_ERROR_MODEL, e.what());
    } catch (const rwkv::unsupported_error& e) {
        return fail(RWKV_ERROR_UNSUPPORTED, e.what());
    } catch (const rwkv::state_error& e) {
        return fail(RWKV_ERROR_STATE, e.what());
    } catch (const std::bad_alloc&) {
        return fail(RWKV_ERROR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::filesystem::filesystem_error& e) {
        return fail(RWKV_ERROR_IO, e.what());
    } catch (const std::exception& e) {
        return fail(RWKV_ERROR_INTERNAL, e.what());
    } catch (...) {
        return fail(RWKV_ERROR_INTERNAL, "unknown exception");
    }
}

}  // namespace rwkv_c

extern "C" {

const char* rwkv_last_error(void) { return last_error_message; }

const char* rwkv_status_name(rwkv_status status) {
    // As an integer: a C caller may pass any int, and an out-of-range enum is undefined in C++.
    switch (rwkv_c::enum_value(status)) {
        case RWKV_OK: return "RWKV_OK";
        case RWKV_ERROR_INVALID_ARGUMENT: return "RWKV_ERROR_INVALID_ARGUMENT";
        case RWKV_ERROR_IO: return "RWKV_ERROR_IO";
        case RWKV_ERROR_FORMAT: return "RWKV_ERROR_FORMAT";
        case RWKV_ERROR_MODEL: return "RWKV_ERROR_MODEL";
        case RWKV_ERROR_UNSUPPORTED: return "RWKV_ERROR_UNSUPPORTED";
        case RWKV_ERROR_STATE: return "RWKV_ERROR_STATE";
        case RWKV_ERROR_BUFFER_TOO_SMALL: return "RWKV_ERROR_BUFFER_TOO_SMALL";
        case RWKV_ERROR_OUT_OF_MEMORY: return "RWKV_ERROR_OUT_OF_MEMORY";
        case RWKV_ERROR_INTERNAL: return "RWKV_ERROR_INTERNAL";
    }
    return "RWKV_ERROR_UNKNOWN_STATUS";
}

const char* rwkv_version(void) { return RWKV_C_VERSION; }

}  // extern "C"
