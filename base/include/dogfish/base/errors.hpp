// The control plane's errors: one exception hierarchy, used everywhere.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace dogfish {

// Every error dogfish throws on purpose derives from Error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed system or library call: the errno it left and what was being done.
class OsError : public Error {
 public:
  OsError(int code, std::string where);
  int code() const noexcept { return code_; }
  const std::string& where() const noexcept { return where_; }

 private:
  int code_;
  std::string where_;
};

// Returns ret, or throws an OsError naming `what` when it is negative: -1 with errno set (libc,
// the bpf() wrappers) or a negative errno (libbpf, which sets errno too).
int check_call(int ret, const std::string& what);

// A bad configuration: "file:line: path: reason" (line 0 when it is about the whole file).
class ConfigError : public Error {
 public:
  ConfigError(std::string file, std::size_t line, std::string reason);
  const std::string& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  std::size_t line_;
  std::string reason_;
};

}  // namespace dogfish
