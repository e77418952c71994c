#include "packet.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <stdexcept>

namespace dogfish::decap::test {
namespace {

void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = v >> 8;
  b[off + 1] = v & 0xff;
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

// The address in network order: 4 bytes for IPv4, 16 for IPv6.
Bytes addr(const std::string& text) {
  Bytes out(16);
  if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) {
    out.resize(4);
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return out;
  throw std::invalid_argument("not an IP address: " + text);
}

}  // namespace

Bytes eth(uint16_t proto) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0, 0};
  put16(b, 12, proto);
  return b;
}

Bytes ipv4(const std::string& src, const std::string& dst, uint8_t proto, const Bytes& payload,
           size_t options) {
  Bytes h(20 + options);
  h[0] = 0x40 | ((20 + options) / 4);
  put16(h, 2, h.size() + payload.size());
  put16(h, 4, 0x1234);  // id
  put16(h, 6, 0x4000);  // DF
  h[8] = 64;
  h[9] = proto;
  Bytes s = addr(src), d = addr(dst);
  std::copy(s.begin(), s.end(), h.begin() + 12);
  std::copy(d.begin(), d.end(), h.begin() + 16);
  put16(h, 10, fold(sum16(h.data(), h.size())));
  return cat(h, payload);
}

Bytes ipv6(const std::string& src, const std::string& dst, uint8_t nexthdr, const Bytes& payload) {
  Bytes h(40);
  h[0] = 0x60;
  put16(h, 4, payload.size());
  h[6] = nexthdr;
  h[7] = 64;
  Bytes s = addr(src), d = addr(dst);
  std::copy(s.begin(), s.end(), h.begin() + 8);
  std::copy(d.begin(), d.end(), h.begin() + 24);
  return cat(h, payload);
}

Bytes tcp_syn(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport) {
  Bytes t(20);
  put16(t, 0, sport);
  put16(t, 2, dport);
  t[7] = 1;        // seq
  t[12] = 5 << 4;  // data offset
  t[13] = 0x02;    // SYN
  put16(t, 14, 64240);
  Bytes s = addr(src), d = addr(dst);
  uint32_t sum = sum16(s.data(), s.size());
  sum = sum16(d.data(), d.size(), sum);
  sum += 6 + t.size();  // protocol and length of the pseudo header
  put16(t, 16, fold(sum16(t.data(), t.size(), sum)));
  return t;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string hexdump(const Bytes& frame, const Bytes& other) {
  std::string out;
  char buf[32];
  for (size_t row = 0; row < frame.size(); row += 16) {
    std::snprintf(buf, sizeof(buf), "  %04zx ", row);
    out += buf;
    for (size_t i = row; i < row + 16 && i < frame.size(); i++) {
      bool differs = i >= other.size() || other[i] != frame[i];
      std::snprintf(buf, sizeof(buf), "%c%02x", differs ? '*' : ' ', frame[i]);
      out += buf;
    }
    out += '\n';
  }
  return out + "  (" + std::to_string(frame.size()) + " bytes)\n";
}

}  // namespace dogfish::decap::test
