// What the balancer's configuration allows, and assumes when a key is left out, for every part
// that writes one: the balancer's parser, control API and CLI, and the lab's topologies. One
// definition each; the checks themselves are the balancer's (validate_config).
#pragma once

#include <cstdint>
#include <string_view>

namespace dogfish {

// A real's share of new flows relative to the other reals of its VIP; 0 drains it.
inline constexpr std::uint32_t kMaxWeight = 65535;

// The outer-source prefixes varied per flow when `source_prefixes` names none. The IPv6 one is
// at most /96: the data plane fills the last 32 bits.
inline constexpr std::string_view kDefaultSrc4Prefix = "172.16.0.0/12";
inline constexpr std::string_view kDefaultSrc6Prefix = "fd00:df::/96";

}  // namespace dogfish
