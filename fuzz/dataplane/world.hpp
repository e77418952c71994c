// The configuration the fuzzer loads into the balancer and decap objects, kept
// as plain data so the checker judges every output against it: which VIPs
// exist, which reals each may reach, where outer sources come from, which
// outer destinations decap strips for. Churn changes the live parts.
#pragma once

#include <dogfish/abi.h>
#include <dogfish/decap_abi.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dogfish/base/address.hpp"
#include "dogfish/config.hpp"

namespace dogfish::fuzz {

struct WorldReal {
  std::uint32_t id = 0;
  IpAddress address;
};

struct WorldVip {
  df_vip_key key{};         // a prefix VIP's: its prefix's address
  std::uint32_t flags = 0;  // DF_VIP_*
  // Every real id the VIP's ring may ever hold: churn draws rings from it, and a
  // flow the connection table remembers stays inside it.
  std::vector<std::uint32_t> pool;
  std::optional<std::uint8_t> prefix_len;  // a prefix VIP's: every address of key.addr/len

  ServiceKey service() const;
};

struct BalancerWorld {
  std::vector<WorldReal> reals;
  std::vector<WorldVip> vips;  // vip_id = index
  df_config config{};          // live: churn flips gateway_set, max_pkt_size, udp_idle_ticks

  // The VIP a packet's key belongs to, by the program's rule (vip_match.hpp).
  const WorldVip* vip(const df_vip_key& key) const;
  const WorldReal* real(std::uint32_t id) const;
};

struct DecapWorld {
  std::vector<IpAddress> addrs;  // outer destinations stripped for
  bool accept_any = false;       // live: churn flips it
};

struct World {
  BalancerWorld balancer;
  DecapWorld decap;
};

// The fuzzer's world: IPv4 and IPv6 VIPs over TCP and UDP, a VIP per flag, an
// IPv4 VIP with an IPv6 real (4in6), an IPv6 VIP with an IPv4 real
// (drop_real_family), a VIP with an empty ring (drop_no_real), prefix VIPs of each
// family (one holding an address's own VIP); decap strips for the reals' addresses.
World default_world();

// Addresses worth writing into a frame: VIPs, reals, decap's, and a stranger of each family.
std::vector<IpAddress> interesting_addresses(const World& world);

// The gateway MAC every encapsulated frame goes to.
inline constexpr std::array<std::uint8_t, 6> kGatewayMac = {0x02, 0, 0, 0, 0, 0x99};

}  // namespace dogfish::fuzz
