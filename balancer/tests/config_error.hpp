// What parse_config says of a text it refuses, for the tests of its error messages.
#pragma once

#include <string>

#include "dogfish/config.hpp"

namespace dogfish {

// The ConfigError's message, or "no error" when the text parses.
inline std::string config_error(const std::string& text, const std::string& file) {
  try {
    parse_config(text, file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace dogfish
