// The decap tests' bottom-up helpers, built on the project's one packet builder
// (bpf/tests/support/packet.hpp).
#include "packet.hpp"

#include "support/packet.hpp"

namespace dogfish::decap::test {
namespace shared = ::dogfish::testing;

Bytes eth(uint16_t proto) {
  return shared::Packet()
      .eth(shared::mac("02:00:00:00:00:02"), shared::mac("02:00:00:00:00:01"), proto)
      .bytes();
}

Bytes ipv4(const std::string& src, const std::string& dst, uint8_t proto, const Bytes& payload,
           size_t options) {
  return shared::Packet()
      .ipv4({.src = src,
             .dst = dst,
             .id = 0x1234,
             .frag_off = 0x4000,
             .proto = proto,
             .options = Bytes(options, 0)})
      .payload(payload)
      .bytes();
}

Bytes ipv6(const std::string& src, const std::string& dst, uint8_t nexthdr, const Bytes& payload) {
  return shared::Packet()
      .ipv6({.src = src, .dst = dst, .nexthdr = nexthdr})
      .payload(payload)
      .bytes();
}

Bytes tcp_syn(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport) {
  // Built behind an IP header for its pseudo-header checksum, then cut from it.
  bool v6 = src.find(':') != std::string::npos;
  shared::Packet p;
  if (v6)
    p.ipv6({.src = src, .dst = dst});
  else
    p.ipv4({.src = src, .dst = dst});
  Bytes b =
      p.tcp({.sport = sport, .dport = dport, .flags = shared::tcp_flags::SYN, .seq = 1}).bytes();
  return Bytes(b.begin() + (v6 ? 40 : 20), b.end());
}

Bytes icmp_too_big(const std::string& router, const std::string& dst, const Bytes& quoted) {
  shared::Packet p;
  if (dst.find(':') != std::string::npos)
    p.ipv6({.src = router, .dst = dst}).icmp({.type = 2, .rest = 1280});
  else
    p.ipv4({.src = router, .dst = dst}).icmp({.type = 3, .code = 4, .rest = 1280});
  return p.payload(quoted).bytes();
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string hexdump(const Bytes& frame, const Bytes& other) {
  return shared::hexdump(frame, &other);
}

}  // namespace dogfish::decap::test
