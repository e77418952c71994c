#include "dogfish/base/errors.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace dogfish {

OsError::OsError(int code, std::string where)
    : Error(fmt::format("{}: {}", where, std::strerror(code))),
      code_(code),
      where_(std::move(where)) {}

int check_call(int ret, const std::string& what) {
  if (ret < 0) throw OsError(ret == -1 ? errno : -ret, what);
  return ret;
}

static std::string config_message(const std::string& file, std::size_t line,
                                  const std::string& reason) {
  if (line == 0) return fmt::format("{}: {}", file, reason);
  return fmt::format("{}:{}: {}", file, line, reason);
}

ConfigError::ConfigError(std::string file, std::size_t line, std::string reason)
    : Error(config_message(file, line, reason)),
      file_(std::move(file)),
      line_(line),
      reason_(std::move(reason)) {}

}  // namespace dogfish
