// Errors from the OS and from libbpf: what was being done, and errno's reason.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace dogfish {

class SysError : public std::runtime_error {
 public:
  // `err` is an errno value (positive) or a libbpf-style negative error.
  SysError(const std::string& what, int err)
      : std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err)),
        errno_(err < 0 ? -err : err) {}
  int error_code() const { return errno_; }

 private:
  int errno_;
};

// Throws SysError when a libbpf call returned a negative error.
inline int check_bpf(int ret, const std::string& what) {
  if (ret < 0) throw SysError(what, ret);
  return ret;
}

}  // namespace dogfish
