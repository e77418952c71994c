#include "dogfish/df_structs.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <variant>

namespace dogfish {
namespace {

// An address as the ABI lays it out: the family, then the bytes (IPv4 in the first four).
IpAddress address_from(std::uint8_t family, const std::uint8_t* bytes) {
  IpAddress address;
  address.family = family;
  std::memcpy(address.bytes.data(), bytes, address.size());
  return address;
}

}  // namespace

df_vip_key to_df_key(const ServiceKey& key) {
  df_vip_key k{};
  std::memcpy(k.addr, key.address.bytes.data(), sizeof(k.addr));
  k.port = htons(key.port);
  k.proto = static_cast<std::uint8_t>(key.proto);
  k.family = key.address.family;
  return k;
}

ServiceKey service_key_of(const df_vip_key& key) {
  return {address_from(key.family, key.addr), ntohs(key.port), static_cast<Proto>(key.proto)};
}

df_prefix_key to_df_prefix_key(const ServiceKey& key) {
  df_prefix_key k = to_df_addr_prefix_key(key.addresses());
  k.proto = static_cast<std::uint8_t>(key.proto);
  k.port = htons(key.port);
  return k;
}

ServiceKey service_key_of(const df_prefix_key& key) {
  const IpPrefix prefix = prefix_of(key);
  return {prefix.address, ntohs(key.port), static_cast<Proto>(key.proto), prefix.length};
}

df_prefix_key to_df_addr_prefix_key(const IpPrefix& prefix) {
  df_prefix_key k{};
  k.prefixlen = DF_PREFIX_HEAD_BITS + prefix.length;
  k.family = prefix.address.family;
  std::memcpy(k.addr, prefix.address.bytes.data(), sizeof(k.addr));
  return k;
}

IpPrefix prefix_of(const df_prefix_key& key) {
  return {address_from(key.family, key.addr),
          static_cast<std::uint8_t>(key.prefixlen - DF_PREFIX_HEAD_BITS)};
}

df_vip_addr_key to_df_addr_key(const IpAddress& address) {
  df_vip_addr_key k{};
  std::memcpy(k.addr, address.bytes.data(), sizeof(k.addr));
  k.family = address.family;
  return k;
}

df_real to_df_real(const IpAddress& address, Encap encap) {
  df_real r{};
  std::memcpy(r.addr, address.bytes.data(), sizeof(r.addr));
  r.family = address.family;
  r.encap = static_cast<std::uint8_t>(encap);
  return r;
}

df_flow_key to_df_flow_key(const ServiceKey& vip, const Endpoint& client) {
  df_flow_key k{};
  k.vip = to_df_key(vip);
  std::memcpy(k.src, client.address.bytes.data(), sizeof(k.src));
  k.sport = htons(client.port);
  return k;
}

IpAddress address_of(const df_vip_addr_key& key) { return address_from(key.family, key.addr); }

IpAddress address_of(const df_real& real) { return address_from(real.family, real.addr); }

Encap encap_of(const df_real& real) { return static_cast<Encap>(real.encap); }

std::uint32_t seconds_to_ticks(std::uint32_t seconds) {
  constexpr std::uint64_t tick_ns = std::uint64_t{1} << DF_TICK_SHIFT;
  return static_cast<std::uint32_t>((std::uint64_t{seconds} * 1'000'000'000 + tick_ns - 1) /
                                    tick_ns);
}

df_config make_df_config(const Config& config) {
  df_config out{};
  if (auto mac = std::get_if<MacAddress>(&config.gateway)) set_gateway_mac(out, *mac);
  out.max_pkt_size = config.max_packet_size.value_or(0);
  out.icmp_off = (config.icmp_echo ? 0 : DF_ICMP_NO_ECHO) |
                 (config.icmp_errors_to_reals ? 0 : DF_ICMP_NO_ERRORS);
  out.udp_idle_ticks = seconds_to_ticks(config.udp_idle_timeout_s);
  out.conn_insert_rate = config.conn_table_insert_rate;
  out.gue_port = htons(config.gue_port);

  std::uint32_t prefix4;
  std::memcpy(&prefix4, config.src4_prefix.address.bytes.data(), sizeof(prefix4));
  const std::uint32_t len4 = config.src4_prefix.length;
  out.src4_prefix = prefix4;
  out.src4_hostmask = htonl(len4 >= 32 ? 0U : 0xffffffffU >> len4);

  // The data plane varies only the last 32 bits; a prefix is at most /96, so all of them are host
  // bits.
  std::memcpy(out.src6_prefix, config.src6_prefix.address.bytes.data(), sizeof(out.src6_prefix));
  out.src6_hostmask = 0xffffffffU;
  return out;
}

void set_gateway_mac(df_config& config, const MacAddress& mac) {
  std::memcpy(config.gateway_mac, mac.bytes.data(), sizeof(config.gateway_mac));
  config.gateway_set = 1;
}

}  // namespace dogfish
