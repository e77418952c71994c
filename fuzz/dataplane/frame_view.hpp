// Bounds-checked reads of a frame's headers for the checker. Written apart from
// the BPF parsers on purpose: the checker must not share the code it judges.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dogfish::fuzz {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::size_t kEthLen = 14;
inline constexpr std::uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd;
inline constexpr std::uint8_t kProtoIpip = 4, kProtoTcp = 6, kProtoUdp = 17, kProtoIpv6 = 41;

// 0 past the end: callers check the length they rely on first.
std::uint16_t be16(const Bytes& b, std::size_t off);
std::uint16_t ethertype(const Bytes& frame);

// An IPv4 or IPv6 header as its bytes say, without judging it.
struct IpView {
  std::uint8_t family = 0;     // DF_FAMILY_V4 or DF_FAMILY_V6
  std::size_t offset = 0;      // where the header starts in the frame
  std::size_t header_len = 0;  // IHL * 4, or 40
  std::size_t total_len = 0;   // the header's own claim: tot_len, or 40 + payload_len
  std::uint8_t version = 0;
  std::uint8_t proto = 0;                     // protocol, next header
  std::uint8_t tos = 0;                       // TOS, traffic class
  std::uint8_t ttl = 0;                       // TTL, hop limit
  bool fragment = false;                      // IPv4 MF or fragment offset
  std::array<std::uint8_t, 16> src{}, dst{};  // IPv4 in the first 4 bytes

  std::size_t addr_len() const { return family == 4 ? 4 : 16; }
};

// The header of the family `eth` (an EtherType) names at `offset`; nothing when
// the EtherType is not IP or the fixed header does not fit in the frame.
std::optional<IpView> ip_at(const Bytes& frame, std::size_t offset, std::uint16_t eth);

// The one's-complement sum of a header, folded: 0 when its checksum is right.
std::uint16_t ipv4_checksum_residue(const Bytes& frame, std::size_t offset, std::size_t len);

// Transport ports of a TCP or UDP header at `offset`; nothing if it is cut short.
struct Ports {
  std::uint16_t src = 0, dst = 0;  // network byte order, as in df_vip_key
};
std::optional<Ports> ports_at(const Bytes& frame, std::size_t offset, std::uint8_t proto);

// "0800 4500 ..." : the frame on one line, for --frame.
std::string to_hex(const Bytes& frame);
// Nothing when `text` is not an even number of hex digits (blanks allowed).
std::optional<Bytes> from_hex(const std::string& text);

}  // namespace dogfish::fuzz
