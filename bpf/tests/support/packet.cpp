#include "packet.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace dogfish::testing {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd;
constexpr uint8_t kProtoIcmp = 1, kProtoIpip = 4, kProtoTcp = 6, kProtoUdp = 17, kProtoIpv6 = 41,
                  kProtoIcmpv6 = 58;

void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = v >> 8;
  b[off + 1] = v & 0xff;
}

void put32(Bytes& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; i++) b[off + i] = (v >> (24 - 8 * i)) & 0xff;
}

uint32_t sum16(const uint8_t* p, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (len & 1) sum += p[len - 1] << 8;
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

Mac mac(const std::string& text) {
  Mac m{};
  unsigned v[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    throw std::invalid_argument("not a MAC: " + text);
  for (int i = 0; i < 6; i++) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

std::array<uint8_t, 4> ip4(const std::string& text) {
  std::array<uint8_t, 4> a{};
  if (inet_pton(AF_INET, text.c_str(), a.data()) != 1)
    throw std::invalid_argument("not an IPv4 address: " + text);
  return a;
}

std::array<uint8_t, 16> ip6(const std::string& text) {
  std::array<uint8_t, 16> a{};
  if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1)
    throw std::invalid_argument("not an IPv6 address: " + text);
  return a;
}

Packet& Packet::eth(const Mac& dst, const Mac& src, std::optional<uint16_t> type) {
  layers_.push_back({.kind = Kind::Eth, .offset = data_.size()});
  data_.insert(data_.end(), dst.begin(), dst.end());
  data_.insert(data_.end(), src.begin(), src.end());
  data_.resize(data_.size() + 2);
  if (type) put16(data_, data_.size() - 2, *type);
  return *this;
}

Packet& Packet::ipv4(const Ipv4& h) {
  size_t off = data_.size();
  layers_.push_back({.kind = Kind::Ipv4, .offset = off, .v4 = h});
  data_.resize(off + 20 + h.options.size());
  data_[off] = h.version_ihl.value_or(0x40 | ((20 + h.options.size()) / 4));
  data_[off + 1] = h.tos;
  put16(data_, off + 4, h.id);
  put16(data_, off + 6, h.frag_off);
  data_[off + 8] = h.ttl;
  auto s = ip4(h.src), d = ip4(h.dst);
  std::memcpy(&data_[off + 12], s.data(), 4);
  std::memcpy(&data_[off + 16], d.data(), 4);
  // std::copy: memcpy from an empty vector's data() (null) is undefined behaviour.
  std::copy(h.options.begin(), h.options.end(), data_.begin() + off + 20);
  return *this;
}

Packet& Packet::ipv6(const Ipv6& h) {
  size_t off = data_.size();
  layers_.push_back({.kind = Kind::Ipv6, .offset = off, .v6 = h});
  data_.resize(off + 40);
  put32(data_, off, (6u << 28) | (uint32_t(h.traffic_class) << 20) | (h.flow_label & 0xfffff));
  data_[off + 7] = h.hop_limit;
  auto s = ip6(h.src), d = ip6(h.dst);
  std::memcpy(&data_[off + 8], s.data(), 16);
  std::memcpy(&data_[off + 24], d.data(), 16);
  return *this;
}

Packet& Packet::ipv6_ext(const Ipv6Ext& h) {
  size_t off = data_.size();
  layers_.push_back({.kind = Kind::Ipv6Ext, .offset = off, .ext = h});
  data_.resize(off + 8);  // length field 0: 8 bytes
  return *this;
}

Packet& Packet::tcp(const Tcp& h) {
  size_t off = data_.size();
  layers_.push_back({.kind = Kind::Tcp, .offset = off});
  const size_t header = 20 + (h.options.size() + 3) / 4 * 4;
  data_.resize(off + header);
  put16(data_, off, h.sport);
  put16(data_, off + 2, h.dport);
  put32(data_, off + 4, h.seq);
  put32(data_, off + 8, h.ack);
  data_[off + 12] = (header / 4) << 4;
  data_[off + 13] = h.flags;
  put16(data_, off + 14, h.window);
  std::copy(h.options.begin(), h.options.end(), data_.begin() + off + 20);
  return *this;
}

Packet& Packet::udp(const Udp& h) {
  size_t off = data_.size();
  layers_.push_back({.kind = Kind::Udp, .offset = off, .l4_checksum = h.checksum});
  data_.resize(off + 8);
  put16(data_, off, h.sport);
  put16(data_, off + 2, h.dport);
  return *this;
}

Packet& Packet::icmp(const Icmp& h) {
  size_t off = data_.size();
  layers_.push_back({.kind = Kind::Icmp, .offset = off});
  data_.resize(off + 8);
  data_[off] = h.type;
  data_[off + 1] = h.code;
  put32(data_, off + 4, h.rest);
  return *this;
}

Packet& Packet::payload(const Bytes& data) {
  layers_.push_back({.kind = Kind::Raw, .offset = data_.size()});
  data_.insert(data_.end(), data.begin(), data.end());
  return *this;
}

Packet& Packet::payload(const std::string& text) {
  return payload(Bytes(text.begin(), text.end()));
}

Packet& Packet::fill_to(size_t frame_len) {
  return payload(Bytes(frame_len > data_.size() ? frame_len - data_.size() : 0));
}

Bytes Packet::bytes() const {
  Bytes b = data_;
  auto next_kind = [&](size_t i) {
    return i + 1 < layers_.size() ? layers_[i + 1].kind : Kind::Raw;
  };
  auto proto_of = [](Kind k) -> std::optional<uint8_t> {
    switch (k) {
      case Kind::Ipv4:
        return kProtoIpip;
      case Kind::Ipv6:
        return kProtoIpv6;
      case Kind::Tcp:
        return kProtoTcp;
      case Kind::Udp:
        return kProtoUdp;
      default:
        return std::nullopt;
    }
  };
  // Innermost first, so an outer checksum covers finished inner bytes only where it matters.
  const Layer* ip = nullptr;
  for (size_t i = 0; i < layers_.size(); i++) {
    const Layer& l = layers_[i];
    size_t len = b.size() - l.offset;
    switch (l.kind) {
      case Kind::Eth:
        if (b[l.offset + 12] == 0 && b[l.offset + 13] == 0) {
          Kind n = next_kind(i);
          if (n == Kind::Ipv4) put16(b, l.offset + 12, kEthIpv4);
          if (n == Kind::Ipv6) put16(b, l.offset + 12, kEthIpv6);
        }
        break;
      case Kind::Ipv4:
        put16(b, l.offset + 2, l.v4.tot_len.value_or(len));
        b[l.offset + 9] = l.v4.proto                   ? *l.v4.proto
                          : next_kind(i) == Kind::Icmp ? kProtoIcmp
                                                       : proto_of(next_kind(i)).value_or(0);
        ip = &l;
        break;
      case Kind::Ipv6:
        put16(b, l.offset + 4, l.v6.payload_len.value_or(len - 40));
        if (l.v6.nexthdr)
          b[l.offset + 6] = *l.v6.nexthdr;
        else if (next_kind(i) == Kind::Ipv6Ext)
          b[l.offset + 6] = layers_[i + 1].ext.type;
        else if (next_kind(i) == Kind::Icmp)
          b[l.offset + 6] = kProtoIcmpv6;
        else
          b[l.offset + 6] = proto_of(next_kind(i)).value_or(59);
        ip = &l;
        break;
      case Kind::Ipv6Ext:
        b[l.offset] = l.ext.nexthdr ? *l.ext.nexthdr : proto_of(next_kind(i)).value_or(59);
        break;
      case Kind::Tcp:
      case Kind::Udp:
        if (l.kind == Kind::Udp) put16(b, l.offset + 4, len);
        if (ip && l.l4_checksum) {
          // Pseudo-header checksum over the nearest IP layer's addresses.
          uint32_t sum = 0;
          uint8_t proto = l.kind == Kind::Tcp ? kProtoTcp : kProtoUdp;
          if (ip->kind == Kind::Ipv4)
            sum = sum16(&b[ip->offset + 12], 8);
          else
            sum = sum16(&b[ip->offset + 8], 32);
          sum += proto + len;
          size_t csum_off = l.offset + (l.kind == Kind::Tcp ? 16 : 6);
          put16(b, csum_off, 0);
          uint16_t c = fold(sum16(&b[l.offset], len, sum));
          if (l.kind == Kind::Udp && c == 0) c = 0xffff;
          put16(b, csum_off, c);
        }
        break;
      case Kind::Icmp:
      case Kind::Raw:
        break;
    }
  }
  // IPv4 header checksums last, outermost included, after every length is set.
  for (const Layer& l : layers_) {
    if (l.kind != Kind::Ipv4) continue;
    size_t hlen = 20 + l.v4.options.size();
    put16(b, l.offset + 10, 0);
    put16(b, l.offset + 10, ipv4_header_checksum(&b[l.offset], hlen));
  }
  // ICMP checksums after all: they cover what they quote, finished. Innermost first.
  for (size_t i = layers_.size(); i-- > 0;) {
    const Layer& l = layers_[i];
    if (l.kind != Kind::Icmp) continue;
    const Layer* ip = nullptr;
    for (size_t j = i; j-- > 0 && !ip;)
      if (layers_[j].kind == Kind::Ipv4 || layers_[j].kind == Kind::Ipv6) ip = &layers_[j];
    size_t len = b.size() - l.offset;
    uint32_t sum = 0;
    if (ip && ip->kind == Kind::Ipv6) sum = sum16(&b[ip->offset + 8], 32) + len + kProtoIcmpv6;
    put16(b, l.offset + 2, 0);
    put16(b, l.offset + 2, fold(sum16(&b[l.offset], len, sum)));
  }
  return b;
}

Bytes l3_of(const Bytes& frame) { return Bytes(frame.begin() + 14, frame.end()); }

uint16_t ipv4_header_checksum(const uint8_t* header, size_t len) {
  return fold(sum16(header, len));
}

std::string hexdump(const Bytes& data, const Bytes* other) {
  std::ostringstream out;
  char buf[24];
  for (size_t row = 0; row < data.size(); row += 16) {
    std::snprintf(buf, sizeof buf, "%04zx ", row);
    out << "    " << buf;
    for (size_t i = row; i < row + 16 && i < data.size(); i++) {
      bool differs = other && (i >= other->size() || (*other)[i] != data[i]);
      std::snprintf(buf, sizeof buf, "%c%02x", differs ? '*' : ' ', data[i]);
      out << buf;
    }
    out << "\n";
  }
  return out.str();
}

std::string describe_mismatch(const Bytes& expected, const Bytes& actual) {
  if (expected == actual) return {};
  size_t first = 0;
  while (first < expected.size() && first < actual.size() && expected[first] == actual[first])
    first++;
  std::ostringstream out;
  out << "frames differ (expected " << expected.size() << " bytes, got " << actual.size()
      << ", first difference at offset " << first << "; * marks differing bytes)\n"
      << "  expected:\n"
      << hexdump(expected, &actual) << "  actual:\n"
      << hexdump(actual, &expected);
  return out.str();
}

}  // namespace dogfish::testing
