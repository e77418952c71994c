// The frames the balancer's golden tests send, and what they read off its output:
// the test network's addresses, packet builders, the outer header a flow gets.
#pragma once

#include <arpa/inet.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "balancer_harness.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {

inline const Mac kBalancerMac = mac("02:00:00:00:00:01");
inline const Mac kClientSideMac = mac("02:00:00:00:00:02");  // the gateway's port towards us
inline const Mac kGatewayMac = mac("02:00:00:00:00:99");     // what the harness configures

inline const std::string kVip4 = "10.100.0.1", kVip6 = "fd00:100::1";
inline const std::string kClient4 = "10.0.0.10", kClient6 = "fd00:1::10";
inline const std::string kReal4a = "10.200.0.1", kReal4b = "10.200.0.2";
inline const std::string kReal6a = "fd00:200::1", kReal6b = "fd00:200::2";

inline std::string ntop4(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}

// The outer source the program derives from a flow's hash (harness prefix 172.16.0.0/12).
inline std::string outer_src4(const df_flow_key& k) {
  return ntop4(0xac100000 | (df_flow_hash(&k) & 0x000fffff));
}

// Harness prefix fd00:df::/96: the hash is the last 32 bits.
inline std::string outer_src6(const df_flow_key& k) {
  auto a = ip6("fd00:df::");
  uint32_t h = htonl(df_flow_hash(&k));
  std::memcpy(&a[12], &h, 4);
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
}

inline Bytes strip_eth(const Bytes& frame) { return Bytes(frame.begin() + 14, frame.end()); }

inline Bytes tcp4(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                  uint8_t flags = tcp_flags::SYN, uint8_t ttl = 64, uint8_t tos = 0,
                  uint32_t seq = 1000) {
  return Packet()
      .eth(kBalancerMac, kClientSideMac)
      .ipv4({.src = src, .dst = dst, .ttl = ttl, .tos = tos, .frag_off = 0x4000})
      .tcp({.sport = sport, .dport = dport, .flags = flags, .seq = seq})
      .payload("GET / HTTP/1.0\r\n\r\n")
      .bytes();
}

inline Bytes udp4(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                  const std::string& body = "ping") {
  return Packet()
      .eth(kBalancerMac, kClientSideMac)
      .ipv4({.src = src, .dst = dst})
      .udp({.sport = sport, .dport = dport})
      .payload(body)
      .bytes();
}

inline Bytes tcp6(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                  uint8_t flags = tcp_flags::SYN, uint32_t seq = 1000) {
  return Packet()
      .eth(kBalancerMac, kClientSideMac)
      .ipv6({.src = src, .dst = dst, .hop_limit = 61, .traffic_class = 0x28, .flow_label = 7})
      .tcp({.sport = sport, .dport = dport, .flags = flags, .seq = seq})
      .payload("hello")
      .bytes();
}

// What the balancer sends for `in`, an IPv4 frame of flow `key` (TTL 64, TOS 0, DF),
// to the IPv4 real `real`.
inline Bytes ipip_of(const Bytes& in, const df_flow_key& key, const std::string& real) {
  return Packet()
      .eth(kGatewayMac, kBalancerMac)
      .ipv4({.src = outer_src4(key), .dst = real, .frag_off = 0x4000, .proto = IPPROTO_IPIP})
      .payload(strip_eth(in))
      .bytes();
}

// What the balancer sends for `in`, an IPv6 frame of flow `key` as tcp6 builds it (hop limit
// 61, traffic class 0x28), to the IPv6 real `real`.
inline Bytes ip6ip6_of(const Bytes& in, const df_flow_key& key, const std::string& real) {
  return Packet()
      .eth(kGatewayMac, kBalancerMac)
      .ipv6({.src = outer_src6(key),
             .dst = real,
             .hop_limit = 61,
             .traffic_class = 0x28,
             .flow_label = df_flow_hash(&key) & 0xfffff,
             .nexthdr = IPPROTO_IPV6})
      .payload(strip_eth(in))
      .bytes();
}

// Which real (by outer destination) a TX'd frame went to.
inline std::string outer_dst(const RunResult& r) {
  char buf[INET6_ADDRSTRLEN];
  if (r.frame.size() >= 34 && r.frame[12] == 0x08 && r.frame[13] == 0x00)
    return inet_ntop(AF_INET, &r.frame[30], buf, sizeof buf);
  if (r.frame.size() >= 54 && r.frame[12] == 0x86 && r.frame[13] == 0xdd)
    return inet_ntop(AF_INET6, &r.frame[38], buf, sizeof buf);
  return "";
}

}  // namespace dogfish::testing
