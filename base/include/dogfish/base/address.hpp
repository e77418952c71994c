// IP addresses, prefixes and MAC addresses as the control plane keeps them:
// plain values, ordered, printable, in the byte layout the ABI uses.
#pragma once

#include <dogfish/abi.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dogfish {

// An IPv4 or IPv6 address. IPv4 uses bytes[0..3], the rest stays zero (as in df_vip_key).
struct IpAddress {
  std::uint8_t family = DF_FAMILY_V4;  // DF_FAMILY_V4 or DF_FAMILY_V6
  std::array<std::uint8_t, 16> bytes{};

  // Parses "10.0.0.1" or "fd00::1"; nothing for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  bool is_v4() const noexcept { return family == DF_FAMILY_V4; }
  bool is_v6() const noexcept { return family == DF_FAMILY_V6; }
  std::size_t size() const noexcept { return is_v4() ? 4 : 16; }
  std::string to_string() const;

  // Ordered by family, then bytes: a total order that no process or machine changes.
  auto operator<=>(const IpAddress&) const = default;
};

// An address with a prefix length, e.g. 172.16.0.0/12 or fd00:df::/96.
struct IpPrefix {
  IpAddress address;
  std::uint8_t length = 0;

  // Parses "A/N"; nothing when malformed or N is out of range for the family.
  static std::optional<IpPrefix> parse(std::string_view text);
  // True when every bit past the prefix length is zero.
  bool host_bits_zero() const noexcept;
  // The prefix with every bit past its length cleared: 10.0.0.0/8 for 10.1.2.3/8.
  IpPrefix network() const noexcept;
  // True when `a` is of the prefix's family and its first `length` bits are the prefix's.
  bool contains(const IpAddress& a) const noexcept;
  std::string to_string() const;

  auto operator<=>(const IpPrefix&) const = default;
};

// A 48-bit Ethernet address.
struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};

  // Parses "02:00:00:00:00:01" (colons or dashes, either case); nothing otherwise.
  static std::optional<MacAddress> parse(std::string_view text);
  std::string to_string() const;

  auto operator<=>(const MacAddress&) const = default;
};

// An address and a port: "10.0.0.1:80" or "[fd00::1]:80" (IPv6 always in brackets).
// "ADDRESS:PORT" or "[IPv6]:PORT" split: the address (IPv6 only in brackets, IPv4 never) and
// the port's text, unparsed (what a port may be is the caller's: Endpoint's 1-65535, a VIP's *).
struct HostPort {
  IpAddress address;
  std::string_view port;
  static std::optional<HostPort> split(std::string_view text);
  // The reverse: "ADDRESS:PORT", IPv6 in brackets.
  static std::string join(const IpAddress& address, std::string_view port);

  // The split alone, the host unparsed (brackets taken off): for hosts that are more than an
  // address (a VIP's prefix). The caller holds IPv6 hosts to their brackets, as split() does.
  struct Text {
    std::string_view host, port;
    bool bracketed = false;
  };
  static std::optional<Text> split_text(std::string_view text);
  // "HOST:PORT", "[HOST]:PORT" when `bracketed`.
  static std::string join_text(std::string_view host, bool bracketed, std::string_view port);
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;  // host byte order, 1..65535

  // Nothing when malformed or the port is 0 or over 65535.
  static std::optional<Endpoint> parse(std::string_view text);
  std::string to_string() const;

  auto operator<=>(const Endpoint&) const = default;
};

}  // namespace dogfish
