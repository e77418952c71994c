// Bottom-up helpers for the decap golden tests (payload first, headers around
// it), with real checksums: thin wrappers over bpf/tests/support/packet.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dogfish::decap::test {

using Bytes = std::vector<uint8_t>;

inline constexpr uint16_t kEthIp = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86dd;
inline constexpr uint16_t kEthArp = 0x0806;

// An Ethernet header with fixed MACs (02:00:00:00:00:01 -> 02:00:00:00:00:02).
Bytes eth(uint16_t proto);

// A 20-byte IPv4 header (plus `options` bytes, a multiple of 4) in front of
// `payload`, with tot_len and the header checksum filled in.
Bytes ipv4(const std::string& src, const std::string& dst, uint8_t proto, const Bytes& payload,
           size_t options = 0);

// A 40-byte IPv6 header in front of `payload`.
Bytes ipv6(const std::string& src, const std::string& dst, uint8_t nexthdr, const Bytes& payload);

// A TCP SYN from src:sport to dst:dport (IPv4 or IPv6 addresses), checksum filled in.
Bytes tcp_syn(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport);

// A UDP datagram from src:sport to dst:dport (IPv4 or IPv6 addresses) around `payload`, its
// checksum filled in, or 0 ("none", IPv4) without `checksum`.
Bytes udp(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
          const Bytes& payload, bool checksum = true);

// A router's ICMP error to `dst` about `quoted` (an IP packet from `dst`): IPv4
// fragmentation needed or ICMPv6 packet too big by the addresses' family, MTU 1280.
Bytes icmp_too_big(const std::string& router, const std::string& dst, const Bytes& quoted);

// a followed by b.
Bytes cat(Bytes a, const Bytes& b);

// Offset-prefixed hex rows, 16 bytes each; bytes that differ from `other` are marked with '*'.
std::string hexdump(const Bytes& frame, const Bytes& other);

}  // namespace dogfish::decap::test
