#include "dogfish/base/address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace dogfish {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.family = DF_FAMILY_V4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  a.family = DF_FAMILY_V6;
  return a;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  auto digits = text.substr(slash + 1);
  unsigned length = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return std::nullopt;
  if (length > address->size() * 8) return std::nullopt;
  return IpPrefix{*address, static_cast<std::uint8_t>(length)};
}

bool IpPrefix::host_bits_zero() const noexcept { return network() == *this; }

IpPrefix IpPrefix::network() const noexcept {
  IpPrefix out = *this;
  for (std::size_t bit = length; bit < address.size() * 8; ++bit)
    out.address.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80U >> (bit % 8)));
  return out;
}

bool IpPrefix::contains(const IpAddress& a) const noexcept {
  return a.family == address.family && IpPrefix{a, length}.network() == network();
}

std::string IpPrefix::to_string() const {
  return fmt::format("{}/{}", address.to_string(), length);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  // Six pairs of hex digits with one separator between: 17 characters.
  if (text.size() != 17) return std::nullopt;
  char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) {
    int hi = hex_digit(text[i * 3]);
    int lo = hex_digit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != separator)) return std::nullopt;
    mac.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return mac;
}

std::string MacAddress::to_string() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2],
                     bytes[3], bytes[4], bytes[5]);
}

std::optional<HostPort::Text> HostPort::split_text(std::string_view text) {
  if (text.starts_with('[')) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    return Text{text.substr(1, close - 1), text.substr(close + 2), true};
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return Text{text.substr(0, colon), text.substr(colon + 1), false};
}

std::optional<HostPort> HostPort::split(std::string_view text) {
  auto split = split_text(text);
  if (!split) return std::nullopt;
  auto address = IpAddress::parse(split->host);
  if (!address || address->is_v6() != split->bracketed) return std::nullopt;
  return HostPort{*address, split->port};
}

std::string HostPort::join_text(std::string_view host, bool bracketed, std::string_view port) {
  if (bracketed) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string HostPort::join(const IpAddress& address, std::string_view port) {
  return join_text(address.to_string(), address.is_v6(), port);
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  auto split = HostPort::split(text);
  if (!split) return std::nullopt;
  std::string_view port = split->port;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535)
    return std::nullopt;
  return Endpoint{split->address, static_cast<std::uint16_t>(value)};
}

std::string Endpoint::to_string() const { return HostPort::join(address, std::to_string(port)); }

}  // namespace dogfish
