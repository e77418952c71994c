// The layer-4 protocols a VIP serves, with their names ("tcp", "udp").
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dogfish/base/name_table.hpp"

namespace dogfish {

enum class Proto : std::uint8_t { tcp = IPPROTO_TCP, udp = IPPROTO_UDP };

std::string_view to_string(Proto proto);
std::optional<Proto> parse_proto(std::string_view name);
// "tcp, udp", for errors.
std::string proto_names();
std::span<const Named<Proto>> protos();  // the table, for command-line choices

}  // namespace dogfish
