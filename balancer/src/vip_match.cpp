#include "dogfish/vip_match.hpp"

#include <algorithm>
#include <tuple>

namespace dogfish {

void VipMatcher::add(const ServiceKey& key) {
  if (key.prefix_len)
    prefixes_.push_back(key);
  else
    single_.insert(key);
}

void VipMatcher::order() {
  // Steps 3 and 4: a named port before every port, then the longer prefix first.
  auto rank = [](const ServiceKey& k) {
    return std::tuple(k.port == DF_VIP_ANY_PORT, -int{*k.prefix_len});
  };
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [&](const ServiceKey& a, const ServiceKey& b) { return rank(a) < rank(b); });
}

std::optional<ServiceKey> VipMatcher::owner(const ServiceKey& to) const {
  for (std::uint16_t port : {to.port, std::uint16_t{DF_VIP_ANY_PORT}})
    if (ServiceKey k{to.address, port, to.proto}; single_.contains(k)) return k;
  for (const ServiceKey& p : prefixes_)
    if (p.proto == to.proto && (p.port == to.port || p.port == DF_VIP_ANY_PORT) &&
        p.addresses().contains(to.address))
      return p;
  return std::nullopt;
}

}  // namespace dogfish
