// rwkv/core/error.hpp — the exception family every layer throws.
//
// Every message names the file (when there is one), the tensor or field, what was expected and what
// was found. The CLI prints what() on one line and exits non-zero (docs/errors.md).
#pragma once

#include <stdexcept>
#include <string>

namespace rwkv {

// Base of every exception the library throws on bad input or unsupported requests.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A file could not be opened, mapped or read (missing, permission, I/O failure).
class io_error : public error {
public:
    using error::error;
};

// A file's bytes are not what its format requires: bad magic, truncated, bad offsets, corrupt
// container, forbidden pickle content, malformed JSON or vocabulary lines.
class format_error : public error {
public:
    using error::error;
};

// The tensors do not describe a model we can run: unknown architecture, missing tensor, tensor
// with the wrong shape or dtype, inconsistent dimensions between tensors.
class model_error : public error {
public:
    using error::error;
};

// An argument to an API call or to the CLI is out of range or inconsistent (token id ≥ vocab,
// empty input, bad flag value, buffer of the wrong size).
class invalid_argument : public error {
public:
    using error::error;
};

// A well-formed request that this build cannot serve: a dtype, head size, compression method or
// backend/precision combination that is not implemented.
class unsupported_error : public error {
public:
    using error::error;
};

// A saved state that is corrupt, of another format version, or made by a model of another
// architecture or shape.
class state_error : public error {
public:
    using error::error;
};

}  // namespace rwkv
