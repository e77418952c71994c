#include "dogfish/config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "dogfish/errors.hpp"
#include "dogfish/maglev.hpp"
#include "dogfish/yaml_reader.hpp"

namespace dogfish {

namespace {

constexpr std::uint32_t kMaxWeight = 65535;
constexpr std::uint64_t kMaxRingEntries = std::uint64_t{1} << 31;

// Reads one YAML document into a Config, naming file, line and key path in every error.
class ConfigParser : YamlReader {
 public:
  explicit ConfigParser(std::string file) : YamlReader(std::move(file)) {}

  Config parse(const YAML::Node& root);

 private:
  IpPrefix prefix(const YAML::Node& n, const std::string& path, std::uint8_t family) const;
  VipConfig vip(const YAML::Node& n, const std::string& path) const;
  RealConfig real(const YAML::Node& n, const std::string& path, const VipConfig& vip) const;
};

IpPrefix ConfigParser::prefix(const YAML::Node& n, const std::string& path,
                              std::uint8_t family) const {
  auto text = scalar(n, path);
  auto p = IpPrefix::parse(text);
  const char* name = family == DF_FAMILY_V4 ? "IPv4" : "IPv6";
  if (!p || p->address.family != family)
    fail(n, path, fmt::format("'{}' is not an {} prefix (address/length)", text, name));
  if (!p->host_bits_zero())
    fail(n, path, fmt::format("{} has bits set past the prefix length", text));
  if (family == DF_FAMILY_V6 && p->length > 96)
    fail(n, path,
         fmt::format("{} is longer than /96 (the data plane fills the last 32 bits)", text));
  return *p;
}

RealConfig ConfigParser::real(const YAML::Node& n, const std::string& path,
                              const VipConfig& vip) const {
  auto m = entries(n, path, {"address", "weight"});
  RealConfig r{.address = address(require(m, n, path, "address"), join(path, "address"))};
  if (vip.address.is_v6() && r.address.is_v4())
    fail(m["address"], join(path, "address"),
         fmt::format("IPv4 real {} behind IPv6 VIP {} (the data plane cannot send IPv6 in IPv4)",
                     r.address.to_string(), vip.address.to_string()));
  if (m.contains("weight")) r.weight = number(m["weight"], join(path, "weight"), 0, kMaxWeight);
  return r;
}

VipConfig ConfigParser::vip(const YAML::Node& n, const std::string& path) const {
  auto m = entries(n, path, {"address", "port", "proto", "flags", "reals"}, {"reals"});
  VipConfig v;
  v.address = address(require(m, n, path, "address"), join(path, "address"));
  auto port = require(m, n, path, "port");
  auto port_text = scalar(port, join(path, "port"));
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || value < 1 || value > 65535)
    fail(port, join(path, "port"), fmt::format("{} is not a port (1-65535)", port_text));
  v.port = static_cast<std::uint16_t>(value);

  auto proto = require(m, n, path, "proto");
  auto proto_text = scalar(proto, join(path, "proto"));
  if (proto_text == "tcp")
    v.proto = Proto::tcp;
  else if (proto_text == "udp")
    v.proto = Proto::udp;
  else
    fail(proto, join(path, "proto"), fmt::format("'{}' is not a protocol (tcp, udp)", proto_text));

  if (m.contains("flags")) {
    auto flags = m["flags"];
    if (!flags.IsSequence()) fail(flags, join(path, "flags"), "expected a list of flags");
    for (std::size_t i = 0; i < flags.size(); ++i) {
      auto fpath = fmt::format("{}.flags[{}]", path, i);
      auto f = scalar(flags[i], fpath);
      std::uint32_t bit = f == "no_conn_table"   ? DF_VIP_NO_CONN_TABLE
                          : f == "src_hash_only" ? DF_VIP_SRC_HASH_ONLY
                                                 : 0;
      if (bit == 0)
        fail(flags[i], fpath,
             fmt::format("'{}' is not a VIP flag (no_conn_table, src_hash_only)", f));
      if (v.flags & bit) fail(flags[i], fpath, fmt::format("'{}' given twice", f));
      v.flags |= bit;
    }
  }

  if (m.contains("reals")) {
    auto reals = m["reals"];
    if (!reals.IsSequence() && !reals.IsNull())
      fail(reals, join(path, "reals"), "expected a list of reals");
    std::map<IpAddress, std::size_t> seen;
    for (std::size_t i = 0; i < reals.size(); ++i) {
      auto rpath = fmt::format("{}.reals[{}]", path, i);
      v.reals.push_back(real(reals[i], rpath, v));
      auto [it, fresh] = seen.emplace(v.reals.back().address, i);
      if (!fresh)
        fail(reals[i], rpath + ".address",
             fmt::format("{} is already reals[{}] of this VIP", v.reals.back().address.to_string(),
                         it->second));
    }
  }
  return v;
}

Config ConfigParser::parse(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) throw ConfigError(file(), 0, "the file is empty");
  auto m = entries(root, "",
                   {"interface", "xdp_mode", "gateway", "source_prefixes", "conn_table_size",
                    "udp_idle_timeout", "max_packet_size", "icmp_echo", "icmp_errors_to_reals",
                    "ring_size", "max_vips", "max_reals", "vips"},
                   {"vips"});
  Config c;

  auto ifname = require(m, root, "", "interface");
  c.interface = scalar(ifname, "interface");
  if (c.interface.empty() || c.interface.size() >= IF_NAMESIZE ||
      c.interface.find_first_of("/ \t:") != std::string::npos)
    fail(ifname, "interface", fmt::format("'{}' is not an interface name", c.interface));

  if (m.contains("xdp_mode")) {
    auto mode = scalar(m["xdp_mode"], "xdp_mode");
    if (mode == "native")
      c.xdp_mode = XdpMode::native;
    else if (mode == "generic")
      c.xdp_mode = XdpMode::generic;
    else if (mode == "auto")
      c.xdp_mode = XdpMode::automatic;
    else
      fail(m["xdp_mode"], "xdp_mode",
           fmt::format("'{}' is not an XDP mode (native, generic, auto)", mode));
  }

  auto gateway = require(m, root, "", "gateway");
  auto gw = scalar(gateway, "gateway");
  if (auto mac = MacAddress::parse(gw))
    c.gateway = *mac;
  else if (auto ip = IpAddress::parse(gw))
    c.gateway = *ip;
  else
    fail(gateway, "gateway", fmt::format("'{}' is neither an IP address nor a MAC address", gw));

  if (m.contains("source_prefixes")) {
    auto node = m["source_prefixes"];
    auto sp = entries(node, "source_prefixes", {"ipv4", "ipv6"});
    if (sp.contains("ipv4"))
      c.src4_prefix = prefix(sp["ipv4"], "source_prefixes.ipv4", DF_FAMILY_V4);
    if (sp.contains("ipv6"))
      c.src6_prefix = prefix(sp["ipv6"], "source_prefixes.ipv6", DF_FAMILY_V6);
  }

  if (m.contains("conn_table_size"))
    c.conn_table_size = number(m["conn_table_size"], "conn_table_size", 1, 1U << 28);
  if (m.contains("udp_idle_timeout"))
    c.udp_idle_timeout_s = number(m["udp_idle_timeout"], "udp_idle_timeout", 0, 86400);
  if (m.contains("max_packet_size") && scalar(m["max_packet_size"], "max_packet_size") != "auto")
    c.max_packet_size = number(m["max_packet_size"], "max_packet_size", 0, 65535);
  if (m.contains("icmp_echo")) c.icmp_echo = boolean(m["icmp_echo"], "icmp_echo");
  if (m.contains("icmp_errors_to_reals"))
    c.icmp_errors_to_reals = boolean(m["icmp_errors_to_reals"], "icmp_errors_to_reals");
  if (m.contains("ring_size")) {
    c.ring_size = number(m["ring_size"], "ring_size", 3, 1U << 24);
    if (!Maglev::is_prime(c.ring_size))
      fail(m["ring_size"], "ring_size", fmt::format("{} is not a prime", c.ring_size));
  }
  if (m.contains("max_vips")) c.max_vips = number(m["max_vips"], "max_vips", 1, DF_MAX_VIP_ADDRS);
  if (m.contains("max_reals")) c.max_reals = number(m["max_reals"], "max_reals", 2, 1U << 20);
  if (std::uint64_t{c.max_vips} * DF_RINGS_PER_VIP * c.ring_size > kMaxRingEntries)
    fail(m.contains("max_vips") ? m["max_vips"] : m["ring_size"],
         m.contains("max_vips") ? "max_vips" : "ring_size",
         fmt::format("{} VIPs x {} rings x {} slots is over 2^31 ring entries", c.max_vips,
                     DF_RINGS_PER_VIP, c.ring_size));

  if (m.contains("vips")) {
    auto vips = m["vips"];
    if (!vips.IsSequence() && !vips.IsNull()) fail(vips, "vips", "expected a list of VIPs");
    std::map<std::tuple<IpAddress, std::uint16_t, Proto>, std::size_t> seen;
    std::set<IpAddress> reals;
    for (std::size_t i = 0; i < vips.size(); ++i) {
      auto path = fmt::format("vips[{}]", i);
      c.vips.push_back(vip(vips[i], path));
      const auto& v = c.vips.back();
      auto [it, fresh] = seen.emplace(std::tuple{v.address, v.port, v.proto}, i);
      if (!fresh)
        fail(vips[i], path, fmt::format("{} is already vips[{}]", vip_name(v), it->second));
      for (const auto& r : v.reals) reals.insert(r.address);
    }
    if (c.vips.size() > c.max_vips)
      fail(vips, "vips",
           fmt::format("{} VIPs, more than max_vips ({})", c.vips.size(), c.max_vips));
    if (reals.size() > c.max_reals - 1)
      fail(vips, "vips",
           fmt::format("{} distinct reals, more than max_reals - 1 ({}; id 0 is never a real)",
                       reals.size(), c.max_reals - 1));
  }
  return c;
}

}  // namespace

Config parse_config(std::string_view text, const std::string& file) {
  return ConfigParser(file).parse(YamlReader::load(text, file));
}

Config load_config(const std::filesystem::path& path) {
  return parse_config(YamlReader::read_file(path.string()), path.string());
}

std::uint32_t seconds_to_ticks(std::uint32_t seconds) {
  constexpr std::uint64_t tick_ns = std::uint64_t{1} << DF_TICK_SHIFT;
  return static_cast<std::uint32_t>((std::uint64_t{seconds} * 1'000'000'000 + tick_ns - 1) /
                                    tick_ns);
}

df_config make_df_config(const Config& config) {
  df_config out{};
  if (auto mac = std::get_if<MacAddress>(&config.gateway)) {
    std::memcpy(out.gateway_mac, mac->bytes.data(), sizeof(out.gateway_mac));
    out.gateway_set = 1;
  }
  out.max_pkt_size = config.max_packet_size.value_or(0);
  out.icmp_off = (config.icmp_echo ? 0 : DF_ICMP_NO_ECHO) |
                 (config.icmp_errors_to_reals ? 0 : DF_ICMP_NO_ERRORS);
  out.udp_idle_ticks = seconds_to_ticks(config.udp_idle_timeout_s);

  std::uint32_t prefix4;
  std::memcpy(&prefix4, config.src4_prefix.address.bytes.data(), sizeof(prefix4));
  const std::uint32_t len4 = config.src4_prefix.length;
  out.src4_prefix = prefix4;
  out.src4_hostmask = htonl(len4 >= 32 ? 0U : 0xffffffffU >> len4);

  // The data plane varies only the last 32 bits; a prefix is at most /96, so all of them are host
  // bits.
  std::memcpy(out.src6_prefix, config.src6_prefix.address.bytes.data(), sizeof(out.src6_prefix));
  out.src6_hostmask = 0xffffffffU;
  return out;
}

std::string vip_name(const VipConfig& vip) {
  const char* proto = vip.proto == Proto::tcp ? "tcp" : "udp";
  if (vip.address.is_v6())
    return fmt::format("[{}]:{}/{}", vip.address.to_string(), vip.port, proto);
  return fmt::format("{}:{}/{}", vip.address.to_string(), vip.port, proto);
}

}  // namespace dogfish
