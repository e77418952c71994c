#include "dogfish/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <optional>

#include "dogfish/base/abi_names.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/yaml_reader.hpp"
#include "dogfish/config_validation.hpp"

namespace dogfish {

namespace {

using Entries = std::map<std::string, YAML::Node>;

std::optional<YAML::Node> entry(const Entries& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

// The node a path names ("vips[0].reals[1].weight"), or the deepest one on the way that the
// document has: a key left out holds its default, and its error points at the mapping around it.
YAML::Node node_at(const YAML::Node& root, const std::string& path) {
  YAML::Node at(root);
  for (std::size_t i = 0; i < path.size();) {
    // Copied, never assigned: assigning a yaml-cpp node writes into the document.
    const YAML::Node next = [&] {
      const YAML::Node& parent = at;
      if (path[i] == '[') {
        auto close = path.find(']', i);
        std::size_t index = 0;
        std::from_chars(path.data() + i + 1, path.data() + close, index);
        i = close + 1;
        return parent[index];
      }
      if (path[i] == '.') ++i;
      auto end = std::min(path.find_first_of(".[", i), path.size());
      auto key = path.substr(i, end - i);
      i = end;
      return parent[key];
    }();
    if (!next.IsDefined()) break;
    at.reset(next);
  }
  return at;
}

// A VIP's port: 1-65535, or "*" (also "any", which YAML takes unquoted) for every port.
std::optional<std::uint16_t> parse_vip_port(std::string_view text) {
  if (text == "*" || text == "any") return DF_VIP_ANY_PORT;
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

constexpr const char* kVipPortRule = "1-65535, or * for every port";
constexpr const char* kVipAddressRule =
    "ADDRESS, or ADDRESS/LENGTH for every address of a prefix, LENGTH at most 32 for IPv4 and 128 "
    "for IPv6";

// Reads one YAML document into a Config, naming file, line and key path in every error. It reads
// values and their types; the rules on them are validate_config's.
class ConfigParser : YamlReader {
 public:
  explicit ConfigParser(std::string file) : YamlReader(std::move(file)) {}

  Config parse(const YAML::Node& root) const;

 private:
  // interface, xdp_mode, gateway: where the program attaches, how, and where frames go.
  void attachment(const Entries& m, const YAML::Node& root, Config& c) const;
  void source_prefixes(const YAML::Node& n, Config& c) const;
  void sizes(const Entries& m, Config& c) const;
  // max_packet_size (auto or bytes) and the ICMP switches.
  void packets(const Entries& m, Config& c) const;
  // encap (the reals' default) and gue_port.
  void encapsulation(const Entries& m, Config& c) const;
  std::vector<VipConfig> vips(const YAML::Node& n) const;
  VipConfig vip(const YAML::Node& n, const std::string& path) const;
  std::uint32_t flags(const YAML::Node& n, const std::string& path) const;
  RealConfig real(const YAML::Node& n, const std::string& path,
                  const HealthCheck& vip_health) const;
  AnnounceConfig announce(const YAML::Node& n) const;
  Endpoint endpoint(const YAML::Node& n, const std::string& path) const;
  // The keys `n` names, over `base` (the defaults, or a real's VIP's check).
  HealthCheck health(const YAML::Node& n, const std::string& path, HealthCheck base) const;
  std::uint32_t duration_ms(const YAML::Node& n, const std::string& path) const;
  // One of an enum's names: "'X' is not <what> (<names>)" otherwise.
  template <typename E>
  E named(const YAML::Node& n, const std::string& path, std::optional<E> (*parse)(std::string_view),
          const std::string& names, std::string_view what) const {
    auto text = scalar(n, path);
    auto value = parse(text);
    if (!value) fail(n, path, fmt::format("'{}' is not {} ({})", text, what, names));
    return *value;
  }
};

void ConfigParser::attachment(const Entries& m, const YAML::Node& root, Config& c) const {
  c.interface = scalar(require(m, root, "", "interface"), "interface");

  if (auto node = entry(m, "xdp_mode"))
    c.xdp_mode = named(*node, "xdp_mode", parse_xdp_mode, xdp_mode_names(), "an XDP mode");

  auto gateway = require(m, root, "", "gateway");
  auto gw = scalar(gateway, "gateway");
  if (auto mac = MacAddress::parse(gw))
    c.gateway = *mac;
  else if (auto ip = IpAddress::parse(gw))
    c.gateway = *ip;
  else
    fail(gateway, "gateway", fmt::format("'{}' is neither an IP address nor a MAC address", gw));
}

void ConfigParser::source_prefixes(const YAML::Node& n, Config& c) const {
  struct Key {
    const char* name;
    std::uint8_t family;
    IpPrefix Config::*field;
  };
  auto m = entries(n, "source_prefixes", {"ipv4", "ipv6"});
  for (const Key& key : {Key{"ipv4", DF_FAMILY_V4, &Config::src4_prefix},
                         Key{"ipv6", DF_FAMILY_V6, &Config::src6_prefix}}) {
    auto node = entry(m, key.name);
    if (!node) continue;
    auto path = join("source_prefixes", key.name);
    auto text = scalar(*node, path);
    auto prefix = IpPrefix::parse(text);
    if (!prefix) fail(*node, path, not_a_prefix(text, key.family));
    c.*key.field = *prefix;
  }
}

void ConfigParser::sizes(const Entries& m, Config& c) const {
  const std::pair<const char*, std::uint32_t Config::*> keys[] = {
      {"conn_table_size", &Config::conn_table_size},
      {"conn_table_insert_rate", &Config::conn_table_insert_rate},
      {"udp_idle_timeout", &Config::udp_idle_timeout_s},
      {"ring_size", &Config::ring_size},
      {"max_vips", &Config::max_vips},
      {"max_reals", &Config::max_reals}};
  for (const auto& [key, field] : keys)
    if (auto node = entry(m, key))
      c.*field = number(*node, key, 0, std::numeric_limits<std::uint32_t>::max());
}

void ConfigParser::packets(const Entries& m, Config& c) const {
  if (auto node = entry(m, "max_packet_size"); node && scalar(*node, "max_packet_size") != "auto")
    c.max_packet_size =
        number(*node, "max_packet_size", 0, std::numeric_limits<std::uint32_t>::max());
  if (auto node = entry(m, "icmp_echo")) c.icmp_echo = boolean(*node, "icmp_echo");
  if (auto node = entry(m, "icmp_errors_to_reals"))
    c.icmp_errors_to_reals = boolean(*node, "icmp_errors_to_reals");
}

void ConfigParser::encapsulation(const Entries& m, Config& c) const {
  if (auto node = entry(m, "encap"))
    c.encap = named(*node, "encap", parse_encap, encap_names(), "an encapsulation");
  if (auto node = entry(m, "gue_port"))
    c.gue_port = static_cast<std::uint16_t>(number(*node, "gue_port", 0, 65535));
}

RealConfig ConfigParser::real(const YAML::Node& n, const std::string& path,
                              const HealthCheck& vip_health) const {
  auto m = entries(n, path, {"address", "weight", "health", "encap"});
  RealConfig r{.address = address(require(m, n, path, "address"), join(path, "address"))};
  if (auto weight = entry(m, "weight"))
    r.weight = number(*weight, join(path, "weight"), 0, std::numeric_limits<std::uint32_t>::max());
  if (auto encap = entry(m, "encap"))
    r.encap = named(*encap, join(path, "encap"), parse_encap, encap_names(), "an encapsulation");
  // An override that changes nothing is none: the real follows the VIP's check.
  if (auto h = entry(m, "health"))
    if (HealthCheck own = health(*h, join(path, "health"), vip_health); own != vip_health)
      r.health = std::move(own);
  return r;
}

// "500ms", "2s", or a number of seconds.
std::uint32_t ConfigParser::duration_ms(const YAML::Node& n, const std::string& path) const {
  const std::string text = scalar(n, path);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(end, text.data() + text.size() - end);
  const std::uint64_t scale = unit == "ms" ? 1 : (unit == "s" || unit.empty()) ? 1000 : 0;
  if (ec != std::errc() || end == text.data() || scale == 0 || value > UINT32_MAX / 1000)
    fail(n, path, fmt::format("'{}' is not a duration (500ms, 2s, or seconds)", text));
  return static_cast<std::uint32_t>(value * scale);
}

HealthCheck ConfigParser::health(const YAML::Node& n, const std::string& path,
                                 HealthCheck h) const {
  auto m = entries(n, path,
                   {"type", "via", "port", "path", "status", "payload", "expect", "interval",
                    "timeout", "rise", "fall"},
                   {"payload", "expect"});
  if (auto node = entry(m, "type"))
    h.type = named(*node, join(path, "type"), parse_health_type, health_type_names(),
                   "a health check type");
  if (auto node = entry(m, "via"))
    h.via =
        named(*node, join(path, "via"), parse_health_via, health_via_names(), "where probes go");
  constexpr auto kMax = std::numeric_limits<std::uint32_t>::max();
  if (auto node = entry(m, "port"))
    h.port = static_cast<std::uint16_t>(number(*node, join(path, "port"), 0, 65535));
  const std::pair<const char*, std::uint32_t HealthCheck::*> numbers[] = {
      {"status", &HealthCheck::status}, {"rise", &HealthCheck::rise}, {"fall", &HealthCheck::fall}};
  for (const auto& [key, field] : numbers)
    if (auto node = entry(m, key)) h.*field = number(*node, join(path, key), 0, kMax);
  const std::pair<const char*, std::uint32_t HealthCheck::*> durations[] = {
      {"interval", &HealthCheck::interval_ms}, {"timeout", &HealthCheck::timeout_ms}};
  for (const auto& [key, field] : durations)
    if (auto node = entry(m, key)) h.*field = duration_ms(*node, join(path, key));
  const std::pair<const char*, std::string HealthCheck::*> texts[] = {
      {"path", &HealthCheck::path},
      {"payload", &HealthCheck::payload},
      {"expect", &HealthCheck::expect}};
  for (const auto& [key, field] : texts)
    if (auto node = entry(m, key)) h.*field = node->IsNull() ? "" : scalar(*node, join(path, key));
  return h;
}

std::uint32_t ConfigParser::flags(const YAML::Node& n, const std::string& path) const {
  if (!n.IsSequence()) fail(n, path, "expected a list of flags");
  std::uint32_t flags = 0;
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto fpath = fmt::format("{}[{}]", path, i);
    auto f = scalar(n[i], fpath);
    auto bit = parse_vip_flag(f);
    if (!bit) fail(n[i], fpath, fmt::format("'{}' is not a VIP flag ({})", f, vip_flag_list()));
    if (flags & *bit) fail(n[i], fpath, fmt::format("'{}' given twice", f));
    flags |= *bit;
  }
  return flags;
}

VipConfig ConfigParser::vip(const YAML::Node& n, const std::string& path) const {
  auto m = entries(n, path, {"address", "port", "proto", "flags", "health", "reals"}, {"reals"});
  VipConfig v;
  const YAML::Node address_node = require(m, n, path, "address");
  const std::string address_text = scalar(address_node, join(path, "address"));
  const auto address = parse_vip_address(address_text);
  if (!address)
    fail(address_node, join(path, "address"),
         fmt::format("'{}' is not an IP address or a prefix ({})", address_text, kVipAddressRule));
  v.address = address->address;
  v.prefix_len = address->prefix_len;
  auto port = require(m, n, path, "port");
  auto port_text = scalar(port, join(path, "port"));
  auto value = parse_vip_port(port_text);
  if (!value)
    fail(port, join(path, "port"), fmt::format("{} is not a port ({})", port_text, kVipPortRule));
  v.port = *value;

  v.proto = named(require(m, n, path, "proto"), join(path, "proto"), parse_proto, proto_names(),
                  "a protocol");

  if (auto flags_node = entry(m, "flags")) v.flags = flags(*flags_node, join(path, "flags"));
  if (auto h = entry(m, "health")) v.health = health(*h, join(path, "health"), HealthCheck{});

  if (auto reals = entry(m, "reals")) {
    if (!reals->IsSequence() && !reals->IsNull())
      fail(*reals, join(path, "reals"), "expected a list of reals");
    for (std::size_t i = 0; i < reals->size(); ++i)
      v.reals.push_back(real((*reals)[i], fmt::format("{}.reals[{}]", path, i), v.health));
  }
  return v;
}

AnnounceConfig ConfigParser::announce(const YAML::Node& n) const {
  auto m = entries(n, "announce", {"bird_socket", "include", "stop_delay"});
  AnnounceConfig a;
  a.bird_socket = scalar(require(m, n, "announce", "bird_socket"), "announce.bird_socket");
  a.include = scalar(require(m, n, "announce", "include"), "announce.include");
  if (auto node = entry(m, "stop_delay"))
    a.stop_delay_s =
        number(*node, "announce.stop_delay", 0, std::numeric_limits<std::uint32_t>::max());
  return a;
}

Endpoint ConfigParser::endpoint(const YAML::Node& n, const std::string& path) const {
  auto text = scalar(n, path);
  auto ep = Endpoint::parse(text);
  if (!ep)
    fail(n, path, fmt::format("'{}' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT) or off", text));
  return *ep;
}

std::vector<VipConfig> ConfigParser::vips(const YAML::Node& n) const {
  if (!n.IsSequence() && !n.IsNull()) fail(n, "vips", "expected a list of VIPs");
  std::vector<VipConfig> out;
  for (std::size_t i = 0; i < n.size(); ++i) out.push_back(vip(n[i], fmt::format("vips[{}]", i)));
  return out;
}

Config ConfigParser::parse(const YAML::Node& root) const {
  if (!root.IsDefined() || root.IsNull()) throw ConfigError(file(), 0, "the file is empty");
  auto m = entries(root, "",
                   {"interface", "xdp_mode", "gateway", "source_prefixes", "conn_table_size",
                    "conn_table_insert_rate", "udp_idle_timeout", "max_packet_size", "icmp_echo",
                    "icmp_errors_to_reals", "encap", "gue_port", "ring_size", "max_vips",
                    "max_reals", "vips", "announce", "metrics_listen"},
                   {"vips"});
  Config c;
  attachment(m, root, c);
  if (auto node = entry(m, "source_prefixes")) source_prefixes(*node, c);
  sizes(m, c);
  packets(m, c);
  encapsulation(m, c);
  if (auto node = entry(m, "vips")) c.vips = vips(*node);
  if (auto node = entry(m, "announce")) c.announce = announce(*node);
  if (auto node = entry(m, "metrics_listen"); node && scalar(*node, "metrics_listen") != "off")
    c.metrics_listen = endpoint(*node, "metrics_listen");
  try {
    validate_config(c);
  } catch (const InvalidConfig& e) {
    fail(node_at(root, e.path()), e.path(), e.reason());
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

IpPrefix ServiceKey::addresses() const {
  return {address, prefix_len.value_or(static_cast<std::uint8_t>(address.size() * 8))};
}

std::optional<VipAddress> parse_vip_address(std::string_view text) {
  if (text.find('/') == std::string_view::npos) {
    auto address = IpAddress::parse(text);
    if (!address) return std::nullopt;
    return VipAddress{*address, std::nullopt};
  }
  auto prefix = IpPrefix::parse(text);
  if (!prefix) return std::nullopt;
  return VipAddress{prefix->address, prefix->length};
}

std::string vip_address_text(const ServiceKey& key) {
  return key.prefix_len ? key.addresses().to_string() : key.address.to_string();
}

std::string to_string(const ServiceKey& key) {
  return fmt::format("{}/{}", vip_endpoint(key), to_string(key.proto));
}

std::string vip_endpoint(const ServiceKey& key) {
  const std::string port = key.port == DF_VIP_ANY_PORT ? "*" : std::to_string(key.port);
  return HostPort::join_text(vip_address_text(key), key.address.is_v6(), port);
}

std::string vip_name(const VipConfig& vip) { return to_string(ServiceKey::of(vip)); }

ServiceKey parse_service(std::string_view text, std::optional<Proto> proto) {
  std::string_view endpoint = text;
  // A "/" past the port's ":" starts the protocol; one before it is a prefix's length.
  const auto slash = text.rfind('/'), colon = text.rfind(':');
  if (slash != std::string_view::npos && (colon == std::string_view::npos || slash > colon)) {
    endpoint = text.substr(0, slash);
    auto named = parse_proto(text.substr(slash + 1));
    if (!named)
      throw Error(fmt::format("'{}': '{}' is not a protocol ({})", text, text.substr(slash + 1),
                              proto_names()));
    if (proto && *proto != *named)
      throw Error(
          fmt::format("'{}' says {}, --proto says {}", text, to_string(*named), to_string(*proto)));
    proto = named;
  }
  const auto split = HostPort::split_text(endpoint);
  const auto address = split ? parse_vip_address(split->host) : std::nullopt;
  const auto port = split ? parse_vip_port(split->port) : std::nullopt;
  if (!address || address->address.is_v6() != split->bracketed || !port)
    throw Error(
        fmt::format("'{}' is not ADDRESS:PORT or ADDRESS:PORT/PROTO (IPv6 as "
                    "[ADDRESS]:PORT; PORT {}; ADDRESS/LENGTH for a prefix VIP, as in "
                    "10.100.1.0/24:80/tcp)",
                    text, kVipPortRule));
  return {address->address, *port, proto.value_or(Proto::tcp), address->prefix_len};
}

const HealthCheck& health_of(const VipConfig& vip, const RealConfig& real) {
  return real.health ? *real.health : vip.health;
}

std::map<IpAddress, Encap> real_encaps(const Config& config) {
  std::map<IpAddress, Encap> out;
  for (const VipConfig& v : config.vips)
    for (const RealConfig& r : v.reals)
      if (r.encap) out.emplace(r.address, *r.encap);
  for (const VipConfig& v : config.vips)
    for (const RealConfig& r : v.reals) out.emplace(r.address, config.encap);
  return out;
}

}  // namespace dogfish
