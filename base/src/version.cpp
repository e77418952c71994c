#include "dogfish/base/version.hpp"

#include <fmt/format.h>

namespace dogfish {

extern const char* const kGitDescribe;  // version_git.cpp, made at build time

std::string_view project_version() { return DOGFISH_PROJECT_VERSION; }
std::string_view git_describe() { return kGitDescribe; }

std::string version_text(std::string_view program) {
  if (git_describe().empty()) return fmt::format("{} {}", program, project_version());
  return fmt::format("{} {} (git {})", program, project_version(), git_describe());
}

}  // namespace dogfish
