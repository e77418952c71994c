// The rules a Config obeys, checked in one function: by the parser once a file is read (it puts
// each error at its line) and by the controller before a runtime change. The layers below trust
// a validated Config and check only their own limits (the reconciler: the data plane's sizes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dogfish/base/errors.hpp"
#include "dogfish/config.hpp"

namespace dogfish {

// A Config that breaks a rule. what(): "path: reason".
class InvalidConfig : public Error {
 public:
  InvalidConfig(std::string path, std::string reason, std::string subject = "");

  // Where, as a configuration file spells it: "max_vips", "vips[0].reals[1].weight".
  const std::string& path() const noexcept { return path_; }
  // Why, naming the offending value: "70000 is out of range (0-65535)".
  const std::string& reason() const noexcept { return reason_; }
  // The reason for a reader with no file to look in (a control request's answer): prefixed by
  // the VIP, real or field the path points at, where the reason alone does not name it.
  std::string in_words() const;

 private:
  std::string path_, reason_, subject_;
};

// Throws InvalidConfig at the first broken rule, in the order the keys stand in a file.
void validate_config(const Config& config);

// "'fd00::/96' is not an IPv4 prefix (address/length)": for text that is no prefix at all as
// much as for a prefix of the other family.
std::string not_a_prefix(std::string_view text, std::uint8_t family);

}  // namespace dogfish
