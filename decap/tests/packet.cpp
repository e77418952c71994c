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

namespace {

// An IP header from src to dst, to build a segment behind for its pseudo-header checksum.
shared::Packet behind_ip(const std::string& src, const std::string& dst) {
  shared::Packet p;
  if (src.find(':') != std::string::npos)
    p.ipv6({.src = src, .dst = dst});
  else
    p.ipv4({.src = src, .dst = dst});
  return p;
}

// The segment alone, cut from behind its IP header.
Bytes without_ip(const Bytes& b, const std::string& src) {
  return Bytes(b.begin() + (src.find(':') != std::string::npos ? 40 : 20), b.end());
}

}  // namespace

Bytes tcp_syn(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport) {
  return without_ip(
      behind_ip(src, dst)
          .tcp({.sport = sport, .dport = dport, .flags = shared::tcp_flags::SYN, .seq = 1})
          .bytes(),
      src);
}

Bytes udp(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
          const Bytes& payload, bool checksum) {
  return without_ip(behind_ip(src, dst)
                        .udp({.sport = sport, .dport = dport, .checksum = checksum})
                        .payload(payload)
                        .bytes(),
                    src);
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
