// tools/server/api_error.hpp — an error the client caused (or that it must hear about), carrying the
// HTTP status and the OpenAI error object's fields: {"error": {"message", "type", "param", "code"}}.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace rwkv_server {

class api_error : public std::runtime_error {
public:
    api_error(int status, std::string type, std::string code, const std::string& message, std::string param = {})
        : std::runtime_error(message), status_(status), type_(std::move(type)), code_(std::move(code)),
          param_(std::move(param)) {}
    int status() const noexcept { return status_; }
    const std::string& type() const noexcept { return type_; }
    const std::string& code() const noexcept { return code_; }
    const std::string& param() const noexcept { return param_; }

private:
    int status_;
    std::string type_, code_, param_;
};

// 400 for a field the client got wrong, naming it.
inline api_error bad_field(const std::string& param, const std::string& message) {
    return api_error(400, "invalid_request_error", "invalid_value", message, param);
}

inline nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& code,
                                 const std::string& param = {}) {
    nlohmann::json e = {{"message", message}, {"type", type}, {"code", code}};
    e["param"] = param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param);
    return {{"error", std::move(e)}};
}

inline nlohmann::json error_body(const api_error& e) { return error_body(e.what(), e.type(), e.code(), e.param()); }

}  // namespace rwkv_server
