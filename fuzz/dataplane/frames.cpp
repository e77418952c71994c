#include "frames.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "support/packet.hpp"

namespace dogfish::fuzz {
namespace {

namespace t = dogfish::testing;

const t::Mac kOurMac = t::mac("02:00:00:00:00:01");
const t::Mac kPeerMac = t::mac("02:00:00:00:00:02");
const std::string kClient4 = "10.0.0.10", kClient6 = "fd00:1::10";
const std::string kStranger4 = "10.9.9.9", kStranger6 = "fd00:9::9";
const std::string kLb4 = "172.16.0.1", kLb6 = "fd00:df::1";

std::string text(const std::uint8_t* addr, std::uint8_t family) {
  IpAddress a{.family = family};
  std::memcpy(a.bytes.data(), addr, family == DF_FAMILY_V4 ? 4 : 16);
  return a.to_string();
}

// A client's packet as IP bytes (no Ethernet), to put behind an Ethernet or outer header.
t::Packet& l3(t::Packet& p, const std::string& dst, std::uint16_t dport, std::uint8_t proto,
              std::uint8_t flags, std::size_t payload) {
  bool v6 = dst.find(':') != std::string::npos;
  if (v6)
    p.ipv6({.src = kClient6, .dst = dst, .hop_limit = 61, .traffic_class = 0x28});
  else
    p.ipv4({.src = kClient4, .dst = dst, .ttl = 63, .tos = 0x10, .frag_off = 0x4000});
  if (proto == IPPROTO_TCP)
    p.tcp({.sport = 40000, .dport = dport, .flags = flags});
  else if (proto == IPPROTO_UDP)
    p.udp({.sport = 5353, .dport = dport});
  return p.payload(Bytes(payload, 'x'));
}

Bytes client(const std::string& dst, std::uint16_t dport, std::uint8_t proto,
             std::uint8_t flags = t::tcp_flags::SYN, std::size_t payload = 18) {
  t::Packet p;
  p.eth(kOurMac, kPeerMac);
  return l3(p, dst, dport, proto, flags, payload).bytes();
}

Bytes ip_only(const Bytes& frame) { return Bytes(frame.begin() + kEthLen, frame.end()); }

Bytes encapsulated(const std::string& outer_dst, std::uint8_t proto, const Bytes& inner,
                   Bytes options = {}) {
  t::Packet p;
  p.eth(kOurMac, kPeerMac);
  if (outer_dst.find(':') != std::string::npos)
    p.ipv6({.src = kLb6, .dst = outer_dst, .nexthdr = proto});
  else
    p.ipv4({.src = kLb4, .dst = outer_dst, .frag_off = 0x4000, .proto = proto, .options = options});
  return p.payload(inner).bytes();
}

// ICMP to a VIP's address: an echo request, and a router's errors about the VIP's reply to
// the client (too big, unreachable) quoting that reply's first bytes, as the balancer sends on.
void add_icmp_seeds(const std::string& vip, std::uint16_t port, std::uint8_t proto,
                    std::vector<Bytes>& out) {
  bool v6 = vip.find(':') != std::string::npos;
  t::Packet reply;
  if (v6)
    reply.ipv6({.src = vip, .dst = kClient6});
  else
    reply.ipv4({.src = vip, .dst = kClient4, .frag_off = 0x4000});
  if (proto == IPPROTO_UDP)
    reply.udp({.sport = port, .dport = 5353});
  else
    reply.tcp({.sport = port, .dport = 40000, .flags = t::tcp_flags::ACK});
  Bytes quote = reply.payload(Bytes(64, 'q')).bytes();
  auto icmp = [&](const t::Icmp& h, const Bytes& data) {
    t::Packet p;
    p.eth(kOurMac, kPeerMac);
    if (v6)
      p.ipv6({.src = kStranger6, .dst = vip});
    else
      p.ipv4({.src = kStranger4, .dst = vip});
    out.push_back(p.icmp(h).payload(data).bytes());
  };
  // Types: echo request 8 / 128; unreachable 3 / 1 (code 4: fragmentation needed, port
  // unreachable); packet too big 2 (IPv6).
  icmp({.type = std::uint8_t(v6 ? 128 : 8), .rest = 0x1234'0001}, Bytes(32, 'e'));
  icmp({.type = std::uint8_t(v6 ? 1 : 3), .code = 4, .rest = v6 ? 0u : 1400u}, quote);
  if (v6) icmp({.type = 2, .rest = 1280}, quote);
}

void add_vip_seeds(const WorldVip& v, std::vector<Bytes>& out) {
  using namespace t::tcp_flags;
  std::string dst = text(v.key.addr, v.key.family);
  std::uint16_t port = ntohs(v.key.port);
  if (v.key.proto == IPPROTO_UDP) {
    out.push_back(client(dst, port, IPPROTO_UDP));
    out.push_back(client(dst, port, IPPROTO_UDP, 0, 1));  // padded to Ethernet's minimum below
    out.back().resize(std::max<std::size_t>(out.back().size(), 60));
  } else {
    for (std::uint8_t flags : {SYN, ACK, std::uint8_t(PSH | ACK), std::uint8_t(FIN | ACK), RST,
                               std::uint8_t(SYN | ACK), std::uint8_t(0), std::uint8_t(SYN | FIN)})
      out.push_back(client(dst, port, IPPROTO_TCP, flags));
    out.push_back(client(dst, port, IPPROTO_TCP, ACK, 1460));  // over max_pkt_size once wrapped
  }
  out.push_back(client(dst, port + 1, v.key.proto));  // no VIP on that port
  out.push_back(client(dst, 1, IPPROTO_ICMP, 0, 8));  // not TCP or UDP
  add_icmp_seeds(dst, port, v.key.proto, out);
  if (v.key.family == DF_FAMILY_V4) {
    t::Packet p;  // IPv4 options, then a fragment, as the golden tests build them
    out.push_back(p.eth(kOurMac, kPeerMac)
                      .ipv4({.src = kClient4, .dst = dst, .options = {1, 1, 1, 0}})
                      .tcp({.sport = 1, .dport = port})
                      .bytes());
    t::Packet f;
    out.push_back(f.eth(kOurMac, kPeerMac)
                      .ipv4({.src = kClient4, .dst = dst, .frag_off = 0x2000})
                      .tcp({.sport = 1, .dport = port})
                      .bytes());
  } else {
    for (std::uint8_t ext : {IPPROTO_HOPOPTS, IPPROTO_FRAGMENT}) {
      t::Packet p;
      out.push_back(p.eth(kOurMac, kPeerMac)
                        .ipv6({.src = kClient6, .dst = dst})
                        .ipv6_ext({.type = ext})
                        .tcp({.sport = 1, .dport = port})
                        .bytes());
    }
  }
}

void add_decap_seeds(const IpAddress& a, std::vector<Bytes>& out) {
  Bytes in4 = ip_only(client("198.51.100.1", 80, IPPROTO_TCP));
  Bytes in6 = ip_only(client("2001:db8:100::1", 80, IPPROTO_TCP));
  std::string dst = a.to_string();
  if (a.is_v4()) {
    out.push_back(encapsulated(dst, IPPROTO_IPIP, in4));
    out.push_back(encapsulated(dst, IPPROTO_IPIP, in4, Bytes(4, 0)));
    out.push_back(encapsulated(dst, IPPROTO_IPIP, in6));  // inner is not what outer says
  } else {
    out.push_back(encapsulated(dst, IPPROTO_IPV6, in6));
    out.push_back(encapsulated(dst, IPPROTO_IPIP, in4));
  }
}

// Values that sit on the edges parsers test.
constexpr std::uint8_t kBytes[] = {0,    1,    4,    5,    6,    17,   41,   43,   44,   58,
                                   59,   60,   0x40, 0x44, 0x45, 0x46, 0x4f, 0x55, 0x60, 0x65,
                                   0x6f, 0x7f, 0x80, 0xfe, 0xff, 0x02, 0x10, 0x12, 0x11, 0x29};

void put16(Bytes& f, std::size_t off, std::uint16_t v) {
  if (off + 2 > f.size()) return;
  f[off] = v >> 8;
  f[off + 1] = v & 0xff;
}

// Where IP headers start in a frame: the outer one, and the inner one if it is an encapsulation.
std::vector<IpView> ip_headers(const Bytes& f) {
  std::vector<IpView> out;
  auto outer = ip_at(f, kEthLen, ethertype(f));
  if (!outer) return out;
  out.push_back(*outer);
  std::size_t hl = outer->family == 4 ? std::max<std::size_t>(outer->header_len, 20) : 40;
  if (outer->proto == kProtoIpip || outer->proto == kProtoIpv6)
    if (auto inner = ip_at(f, kEthLen + hl, outer->proto == kProtoIpip ? kEthIpv4 : kEthIpv6))
      out.push_back(*inner);
  return out;
}

}  // namespace

std::vector<Bytes> seed_corpus(const World& world) {
  std::vector<Bytes> out;
  for (const WorldVip& v : world.balancer.vips) {
    add_vip_seeds(v, out);
    if (!v.prefix_len) continue;
    WorldVip inside = v;  // and an address of the prefix other than its first
    inside.key.addr[v.key.family == DF_FAMILY_V4 ? 3 : 15] |= 0x2a;
    add_vip_seeds(inside, out);
  }
  out.push_back(client(kStranger4, 80, IPPROTO_TCP));
  out.push_back(client(kStranger6, 80, IPPROTO_UDP));
  t::Packet arp;
  out.push_back(arp.eth(kOurMac, kPeerMac, 0x0806).payload(Bytes(28, 0)).bytes());
  for (const IpAddress& a : world.decap.addrs) add_decap_seeds(a, out);
  add_decap_seeds(*IpAddress::parse(kStranger4), out);
  add_decap_seeds(*IpAddress::parse(kStranger6), out);
  return out;
}

const char* to_string(FrameKind kind) {
  static const char* names[] = {"seed_new_flow", "mutated", "spliced", "random_bytes",
                                "random_headers"};
  return names[static_cast<int>(kind)];
}

FrameSource::FrameSource(std::uint64_t seed, std::vector<Bytes> corpus,
                         std::vector<IpAddress> addresses)
    : rng_(seed), corpus_(std::move(corpus)), addresses_(std::move(addresses)) {}

Bytes FrameSource::next() {
  std::uint64_t pick = below(100);
  Bytes f;
  if (pick < 5) {
    last_ = FrameKind::random_bytes;
    f.resize(kMinFrame + below(chance(90) ? 128 : kMaxFrame - kMinFrame));
    for (auto& b : f) b = static_cast<std::uint8_t>(rng_());
  } else if (pick < 15) {
    last_ = FrameKind::random_headers;
    f = random_headers();
  } else if (pick < 20) {
    last_ = FrameKind::spliced;
    const Bytes& a = corpus_[below(corpus_.size())];
    const Bytes& b = corpus_[below(corpus_.size())];
    std::size_t cut_a = below(a.size() + 1), cut_b = below(b.size() + 1);
    f.assign(a.begin(), a.begin() + cut_a);
    f.insert(f.end(), b.begin() + cut_b, b.end());
  } else {
    f = corpus_[below(corpus_.size())];
    new_flow(f);
    last_ = FrameKind::seed_new_flow;
    if (pick >= 50) {
      last_ = FrameKind::mutated;
      for (std::uint64_t n = 1 + below(4); n > 0; n--) mutate_once(f);
    }
  }
  clamp(f);
  return f;
}

// Another client: random low bytes of the outermost source address and port.
void FrameSource::new_flow(Bytes& f) {
  auto ips = ip_headers(f);
  if (ips.empty()) return;
  const IpView& ip = ips.back();
  std::size_t src = ip.offset + (ip.family == 4 ? 12 : 8) + ip.addr_len() - 2;
  put16(f, src, static_cast<std::uint16_t>(rng_()));
  std::size_t l4 = ip.offset + (ip.family == 4 ? ip.header_len : 40);
  if (ip.proto == kProtoTcp || ip.proto == kProtoUdp)
    put16(f, l4, static_cast<std::uint16_t>(1024 + below(64512)));
}

void FrameSource::mutate_once(Bytes& f) {
  if (f.empty()) f.resize(kMinFrame);
  std::size_t pos = below(f.size());
  switch (below(11)) {
    case 0:
      f[pos] ^= static_cast<std::uint8_t>(1u << below(8));
      break;
    case 1:
      f[pos] = kBytes[below(std::size(kBytes))];
      break;
    case 2:
      put16(f, pos, edge16(f.size() - kEthLen));
      break;
    case 3: {
      const std::size_t edges[] = {14, 33, 34, 35, 41, 53, 54, 55, 61, 73, 74, 75, 94, 95};
      std::size_t at = chance(50) ? edges[below(std::size(edges))] : pos;
      f.resize(std::min(f.size(), at));
      break;
    }
    case 4: {
      std::size_t n = 1 + below(64);
      bool zeros = chance(50);
      for (std::size_t i = 0; i < n; i++)
        f.push_back(zeros ? 0 : static_cast<std::uint8_t>(rng_()));
      break;
    }
    case 5: {
      Bytes add(1 + below(8));
      for (auto& b : add) b = static_cast<std::uint8_t>(rng_());
      f.insert(f.begin() + pos, add.begin(), add.end());
      break;
    }
    case 6:
      f.erase(f.begin() + pos, f.begin() + std::min(f.size(), pos + 1 + below(8)));
      break;
    case 7:
    case 8:
      set_field(f);
      break;
    case 9:
      set_address(f);
      break;
    case 10: {
      const std::uint16_t types[] = {kEthIpv4, kEthIpv6, 0x0806, 0x8100, 0x88a8};
      put16(f, 12, chance(80) ? types[below(std::size(types))] : std::uint16_t(rng_()));
      break;
    }
  }
}

// One header field of an IP, TCP or UDP header the frame has, set to an edge value.
void FrameSource::set_field(Bytes& f) {
  auto ips = ip_headers(f);
  if (ips.empty()) return mutate_once(f);
  const IpView& ip = ips[below(ips.size())];
  std::size_t o = ip.offset;
  std::size_t l4 = o + (ip.family == 4 ? std::max<std::size_t>(ip.header_len, 20) : 40);
  std::size_t claim = f.size() - o;
  std::uint8_t r = kBytes[below(std::size(kBytes))];
  switch (below(ip.family == 4 ? 9 : 7)) {
    case 0: {  // ports: mostly the VIPs'
      const std::uint16_t ports[] = {80, 53, 443, 81, static_cast<std::uint16_t>(rng_())};
      put16(f, l4 + below(2) * 2, ports[below(std::size(ports))]);
      break;
    }
    case 1:  // TCP flags and data offset
      if (l4 + 14 <= f.size()) f[l4 + 13] = static_cast<std::uint8_t>(rng_());
      if (l4 + 14 <= f.size() && chance(20)) f[l4 + 12] = static_cast<std::uint8_t>(below(16) << 4);
      break;
    case 2:  // protocol / next header
      f[o + (ip.family == 4 ? 9 : 6)] = r;
      break;
    case 3:  // version (and IHL)
      f[o] = ip.family == 4 ? r : static_cast<std::uint8_t>((r & 0xf0) | (f[o] & 0x0f));
      break;
    case 4:  // length claim
      if (ip.family == 4)
        put16(f, o + 2, edge16(claim));
      else
        put16(f, o + 4, static_cast<std::uint16_t>(edge16(claim) - 40u));
      break;
    case 5:  // TTL / hop limit
      f[o + (ip.family == 4 ? 8 : 7)] = static_cast<std::uint8_t>(below(3) == 0 ? 0 : rng_());
      break;
    case 6:  // TOS / traffic class
      f[o + 1] = static_cast<std::uint8_t>(rng_());
      break;
    case 7: {  // IPv4 fragment bits
      const std::uint16_t frag[] = {0, 0x4000, 0x2000, 0x0001, 0x1fff, 0x6000};
      put16(f, o + 6, frag[below(std::size(frag))]);
      break;
    }
    case 8:  // IPv4 checksum: the programs must not care
      put16(f, o + 10, static_cast<std::uint16_t>(rng_()));
      break;
  }
}

// A VIP's, real's or stranger's address written over a source or destination.
void FrameSource::set_address(Bytes& f) {
  auto ips = ip_headers(f);
  if (ips.empty()) return mutate_once(f);
  const IpView& ip = ips[below(ips.size())];
  std::vector<const IpAddress*> fits;
  for (const IpAddress& a : addresses_)
    if (a.family == ip.family) fits.push_back(&a);
  if (fits.empty()) return;
  const IpAddress& a = *fits[below(fits.size())];
  std::size_t at = ip.offset + (ip.family == 4 ? 12 : 8) + (chance(75) ? ip.addr_len() : 0);
  if (at + ip.addr_len() <= f.size()) std::memcpy(&f[at], a.bytes.data(), ip.addr_len());
}

Bytes FrameSource::random_headers() {
  const IpAddress& dst = addresses_[below(addresses_.size())];
  std::uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_ICMP};
  std::uint8_t proto = protos[below(std::size(protos))];
  Bytes inner = ip_only(client(chance(50) ? "198.51.100.1" : "2001:db8::1", 80, IPPROTO_TCP));
  Bytes f;
  if (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6) {
    f = encapsulated(dst.to_string(), proto, inner);
  } else {
    const std::uint16_t ports[] = {80, 53, 443, static_cast<std::uint16_t>(rng_())};
    f = client(dst.to_string(), ports[below(4)], proto, static_cast<std::uint8_t>(rng_()),
               below(chance(90) ? 64 : 1600));
  }
  for (std::uint64_t n = below(3); n > 0; n--) set_field(f);
  return f;
}

// A 16-bit value on an edge that length and flag checks test, often near a length `claim`.
std::uint16_t FrameSource::edge16(std::size_t claim) {
  static constexpr std::uint16_t kFixed[] = {0,      1,      19,     20,     27,    28,     39,
                                             40,     47,     48,     59,     60,    0x0800, 0x86dd,
                                             0x2000, 0x3fff, 0x4000, 0x8000, 0xffff};
  auto c = static_cast<std::uint16_t>(claim);
  switch (below(8)) {
    case 0:
      return c;
    case 1:
      return static_cast<std::uint16_t>(c - 1);
    case 2:
      return static_cast<std::uint16_t>(c + 1);
    case 3:
      return static_cast<std::uint16_t>(c - 40);
  }
  return kFixed[below(std::size(kFixed))];
}

void FrameSource::clamp(Bytes& f) {
  if (f.size() < kMinFrame) f.resize(kMinFrame, 0);
  if (f.size() > kMaxFrame) f.resize(kMaxFrame);
}

}  // namespace dogfish::fuzz
