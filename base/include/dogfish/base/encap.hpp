// How the balancer wraps a client's packet for a real (df_real.encap), with its names
// ("ipip", "gue"): the configuration's `encap`, the CLI's --encap, the lab's topologies.
#pragma once

#include <dogfish/abi.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dogfish/base/name_table.hpp"

namespace dogfish {

// ipip: an outer IP header of the real's family (IPIP, IPv6-in-IPv6, IPv4-in-IPv6);
// gue: that header and UDP to the GUE port (GUE variant 1, direct IP).
enum class Encap : std::uint8_t { ipip = DF_ENCAP_IPIP, gue = DF_ENCAP_GUE };

std::string_view to_string(Encap encap);
std::optional<Encap> parse_encap(std::string_view name);
// "ipip, gue", for errors.
std::string encap_names();
std::span<const Named<Encap>> encaps();  // the table, for command-line choices

}  // namespace dogfish
