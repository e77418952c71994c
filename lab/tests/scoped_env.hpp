// An environment variable set (or unset) for one scope and put back as it was: the
// caller may run with a lab prefix or record directory of its own.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace dogfish::lab {

class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* was = std::getenv(name_.c_str())) saved_ = was;
    set(value);
  }
  ~ScopedEnv() { set(saved_ ? saved_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  // nullptr unsets it.
  void set(const char* value) const {
    if (value)
      setenv(name_.c_str(), value, 1);
    else
      unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

}  // namespace dogfish::lab
