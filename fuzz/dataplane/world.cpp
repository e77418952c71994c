#include "world.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "dogfish/df_structs.hpp"
#include "dogfish/vip_match.hpp"

namespace dogfish::fuzz {
namespace {

IpAddress addr(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) throw std::invalid_argument(std::string("not an address: ") + text);
  return *a;
}

df_vip_key vip_key(const char* address, std::uint16_t port, std::uint8_t proto) {
  IpAddress a = addr(address);
  df_vip_key k{};
  std::memcpy(k.addr, a.bytes.data(), sizeof(k.addr));
  k.family = a.family;
  k.port = htons(port);
  k.proto = proto;
  return k;
}

}  // namespace

ServiceKey WorldVip::service() const {
  ServiceKey k = service_key_of(key);
  k.prefix_len = prefix_len;
  return k;
}

const WorldVip* BalancerWorld::vip(const df_vip_key& key) const {
  std::map<ServiceKey, const WorldVip*> by_key;
  for (const WorldVip& v : vips) by_key.emplace(v.service(), &v);
  const auto owner = VipMatcher::of(by_key).owner(service_key_of(key));
  return owner ? by_key.at(*owner) : nullptr;
}

const WorldReal* BalancerWorld::real(std::uint32_t id) const {
  for (const WorldReal& r : reals)
    if (r.id == id) return &r;
  return nullptr;
}

World default_world() {
  World w;
  w.balancer.reals = {{1, addr("10.200.0.1")},
                      {2, addr("10.200.0.2")},
                      {3, addr("10.200.0.3")},
                      {5, addr("fd00:200::1")},
                      {6, addr("fd00:200::2")}};
  w.balancer.vips = {
      {vip_key("10.100.0.1", 80, IPPROTO_TCP), 0, {1, 2, 5}},
      {vip_key("10.100.0.1", 53, IPPROTO_UDP), 0, {1, 2}},
      {vip_key("10.100.0.2", 80, IPPROTO_TCP), DF_VIP_NO_CONN_TABLE, {2, 3}},
      {vip_key("10.100.0.3", 443, IPPROTO_TCP), DF_VIP_SRC_HASH_ONLY, {3, 6}},
      {vip_key("fd00:100::1", 443, IPPROTO_TCP), 0, {5, 6}},
      {vip_key("fd00:100::1", 53, IPPROTO_UDP), DF_VIP_NO_CONN_TABLE, {5}},
      {vip_key("fd00:100::2", 80, IPPROTO_TCP), 0, {1, 6}},
      {vip_key("10.100.0.4", 80, IPPROTO_TCP), 0, {}},
      // 10.100.0.1:80 has its own VIP; the prefix takes the rest of port 80.
      {vip_key("10.100.0.0", 80, IPPROTO_TCP), 0, {3}, 24},
      {vip_key("fd00:101::", DF_VIP_ANY_PORT, IPPROTO_UDP), DF_VIP_SRC_HASH_ONLY, {5, 6}, 64},
  };
  df_config& c = w.balancer.config;
  std::memcpy(c.gateway_mac, kGatewayMac.data(), 6);
  c.gateway_set = 1;
  c.max_pkt_size = 1500;
  c.src4_prefix = htonl(0xac100000);  // 172.16.0.0/12
  c.src4_hostmask = htonl(0x000fffff);
  IpAddress p6 = addr("fd00:df::");
  std::memcpy(c.src6_prefix, p6.bytes.data(), 16);
  c.src6_hostmask = 0xffffffff;  // fd00:df::/96
  for (const WorldReal& r : w.balancer.reals) w.decap.addrs.push_back(r.address);
  return w;
}

std::vector<IpAddress> interesting_addresses(const World& world) {
  std::vector<IpAddress> out;
  for (const WorldVip& v : world.balancer.vips) {
    IpAddress a{.family = v.key.family};
    std::memcpy(a.bytes.data(), v.key.addr, 16);
    out.push_back(a);
    if (v.prefix_len) {
      a.bytes[a.size() - 1] |= 0x2a;  // inside the prefix (every prefix here is /120 or wider)
      out.push_back(a);
    }
  }
  for (const WorldReal& r : world.balancer.reals) out.push_back(r.address);
  for (const IpAddress& a : world.decap.addrs) out.push_back(a);
  out.push_back(addr("10.9.9.9"));
  out.push_back(addr("fd00:9::9"));
  return out;
}

}  // namespace dogfish::fuzz
