#include "frame_view.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>
#include <string>

namespace dogfish::fuzz {

std::uint16_t be16(const Bytes& b, std::size_t off) {
  return off + 2 <= b.size() ? static_cast<std::uint16_t>(b[off] << 8 | b[off + 1]) : 0;
}

std::uint16_t ethertype(const Bytes& frame) { return be16(frame, 12); }

std::optional<IpView> ip_at(const Bytes& frame, std::size_t offset, std::uint16_t eth) {
  IpView v;
  v.offset = offset;
  if (eth == kEthIpv4) {
    if (offset + 20 > frame.size()) return std::nullopt;
    const std::uint8_t* h = &frame[offset];
    v.family = 4;
    v.version = h[0] >> 4;
    v.header_len = (h[0] & 0x0f) * 4u;
    v.tos = h[1];
    v.total_len = be16(frame, offset + 2);
    v.fragment = (be16(frame, offset + 6) & 0x3fff) != 0;
    v.ttl = h[8];
    v.proto = h[9];
    std::memcpy(v.src.data(), h + 12, 4);
    std::memcpy(v.dst.data(), h + 16, 4);
    return v;
  }
  if (eth == kEthIpv6) {
    if (offset + 40 > frame.size()) return std::nullopt;
    const std::uint8_t* h = &frame[offset];
    v.family = 6;
    v.version = h[0] >> 4;
    v.header_len = 40;
    v.tos = static_cast<std::uint8_t>((h[0] << 4) | (h[1] >> 4));
    v.total_len = 40u + be16(frame, offset + 4);
    v.proto = h[6];
    v.ttl = h[7];
    std::memcpy(v.src.data(), h + 8, 16);
    std::memcpy(v.dst.data(), h + 24, 16);
    return v;
  }
  return std::nullopt;
}

std::uint16_t ipv4_checksum_residue(const Bytes& frame, std::size_t offset, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += be16(frame, offset + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::optional<Ports> ports_at(const Bytes& frame, std::size_t offset, std::uint8_t proto) {
  std::size_t need = proto == kProtoTcp ? 20 : proto == kProtoUdp ? 8 : 0;
  if (!need || offset + need > frame.size()) return std::nullopt;
  Ports p;
  std::memcpy(&p.src, &frame[offset], 2);
  std::memcpy(&p.dst, &frame[offset + 2], 2);
  return p;
}

std::string to_hex(const Bytes& frame) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(frame.size() * 2);
  for (std::uint8_t b : frame) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::optional<Bytes> from_hex(const std::string& text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return out;
}

}  // namespace dogfish::fuzz
