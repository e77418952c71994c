// A small packet builder and printer for tests: frames are built layer by layer
// and finished at the end, when lengths and checksums are filled in (unless a
// test overrides them to make a malformed packet).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dogfish::testing {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

Mac mac(const std::string& text);  // "02:00:00:00:00:01"
std::array<uint8_t, 4> ip4(const std::string& text);
std::array<uint8_t, 16> ip6(const std::string& text);

struct Ipv4 {
  std::string src, dst;
  uint8_t ttl = 64;
  uint8_t tos = 0;
  uint16_t id = 0;
  uint16_t frag_off = 0;               // host order, flags included (0x4000 = DF)
  std::optional<uint8_t> proto;        // default: from the next layer
  Bytes options;                       // appended after the fixed header, IHL grows
  std::optional<uint8_t> version_ihl;  // overrides the first byte
  std::optional<uint16_t> tot_len;     // overrides the computed length
};

struct Ipv6 {
  std::string src, dst;
  uint8_t hop_limit = 64;
  uint8_t traffic_class = 0;
  uint32_t flow_label = 0;
  std::optional<uint8_t> nexthdr;       // default: from the next layer
  std::optional<uint16_t> payload_len;  // overrides the computed length
};

// An IPv6 extension header (hop-by-hop, routing, fragment, ...), 8 bytes.
struct Ipv6Ext {
  uint8_t type;                    // the nexthdr value that announces it
  std::optional<uint8_t> nexthdr;  // default: from the next layer
};

namespace tcp_flags {
constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20,
                  ECE = 0x40, CWR = 0x80;
}

struct Tcp {
  uint16_t sport, dport;
  uint8_t flags = tcp_flags::SYN;
  uint32_t seq = 1000;
  uint32_t ack = 0;
  Bytes options;  // zero-padded to a multiple of 4; the data offset grows
  uint16_t window = 65535;
};

struct Udp {
  uint16_t sport, dport;
  bool checksum = true;  // false: 0, "none" (IPv4 only), for frames a program rewrites
};

// ICMP or ICMPv6, by the IP layer before it; what follows it (a quote, an echo's data) is
// inside its checksum.
struct Icmp {
  uint8_t type, code = 0;
  uint32_t rest = 0;  // echo: id << 16 | sequence; frag needed and packet too big: the MTU
};

class Packet {
 public:
  Packet& eth(const Mac& dst, const Mac& src, std::optional<uint16_t> type = {});
  Packet& ipv4(const Ipv4& h);
  Packet& ipv6(const Ipv6& h);
  Packet& ipv6_ext(const Ipv6Ext& h);
  Packet& tcp(const Tcp& h);
  Packet& udp(const Udp& h);
  Packet& icmp(const Icmp& h);
  Packet& payload(const Bytes& data);
  Packet& payload(const std::string& text);
  // Zero bytes after what is there, so the frame is frame_len long (none when it is already).
  Packet& fill_to(size_t frame_len);

  // The finished frame: lengths, next-protocol fields and checksums filled in.
  Bytes bytes() const;

 private:
  enum class Kind { Eth, Ipv4, Ipv6, Ipv6Ext, Tcp, Udp, Icmp, Raw };
  struct Layer {
    Kind kind;
    size_t offset;
    Ipv4 v4;
    Ipv6 v6;
    Ipv6Ext ext;
    bool l4_checksum = true;
  };
  Bytes data_;
  std::vector<Layer> layers_;
};

uint16_t ipv4_header_checksum(const uint8_t* header, size_t len);

// The L3 packet of a frame: what follows its 14-byte Ethernet header.
Bytes l3_of(const Bytes& frame);

// A hex dump with offsets; bytes that differ from `other` are marked.
std::string hexdump(const Bytes& data, const Bytes* other = nullptr);

// A gtest-friendly comparison: empty when equal, else both frames dumped.
std::string describe_mismatch(const Bytes& expected, const Bytes& actual);

}  // namespace dogfish::testing
