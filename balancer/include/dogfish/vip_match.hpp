// Which VIP a packet belongs to, by the program's rule (bpf/vip_cache.h, vip_map_lookup), for
// the control plane's questions about flows: the first that matches of
//   1. the exact VIP (address, port, protocol);
//   2. the address's any-port VIP;
//   3. the longest prefix VIP with the port;
//   4. the longest any-port prefix VIP.
#pragma once

#include <optional>
#include <set>
#include <vector>

#include "dogfish/config.hpp"

namespace dogfish {

class VipMatcher {
 public:
  // Over the VIPs a map of them is keyed by (the reconciler's applied state, a Config's).
  template <typename Map>
  static VipMatcher of(const Map& vips) {
    VipMatcher m;
    for (const auto& [key, value] : vips) m.add(key);
    m.order();
    return m;
  }

  // The VIP a packet to `to` (an address, its port, its protocol; no prefix) belongs to.
  std::optional<ServiceKey> owner(const ServiceKey& to) const;

 private:
  void add(const ServiceKey& key);
  void order();

  std::set<ServiceKey> single_;       // VIPs of one address
  std::vector<ServiceKey> prefixes_;  // in the order they are asked
};

}  // namespace dogfish
