// What every binary answers to --version: the project's version (CMake's project()) and, when it
// was built from a git checkout, `git describe` of that tree at build time.
#pragma once

#include <string>
#include <string_view>

namespace dogfish {

std::string_view project_version();  // "0.1.0"
std::string_view git_describe();     // "v0.1.0-3-g1a2b3c4-dirty", or "" (built from a tarball)
// "dogfish 0.1.0 (git 1a2b3c4-dirty)", or "dogfish 0.1.0".
std::string version_text(std::string_view program);

}  // namespace dogfish
