// Text from outside (a client's request, a config value) made fit for a log line or an
// error message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dogfish {

// Bytes outside printable ASCII as \xNN (no terminal escapes, no line breaks get through),
// cut after `max` bytes with "... (N bytes)".
std::string printable(std::string_view text, std::size_t max = 200);

}  // namespace dogfish
