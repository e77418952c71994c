#include "dogfish/config_validation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <net/if.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "dogfish/base/abi_names.hpp"
#include "dogfish/base/balancer_schema.hpp"
#include "dogfish/base/printable.hpp"
#include "dogfish/maglev.hpp"

namespace dogfish {
namespace {

// The data plane's ring array is one BPF array of max_vips x DF_RINGS_PER_VIP rings.
constexpr std::uint64_t kMaxRingEntries = std::uint64_t{1} << 31;

struct Range {
  std::uint32_t min, max;
};

void check_range(std::uint32_t value, Range range, const std::string& path,
                 const std::string& subject = "") {
  if (value < range.min || value > range.max)
    throw InvalidConfig(
        path, fmt::format("{} is out of range ({}-{})", value, range.min, range.max), subject);
}

// The kernel's rule (dev_valid_name) and the logs': 1 to 15 bytes of printable ASCII, no
// space, '/' or ':', not "." or "..". The name is shown escaped: it may hold a line break.
void check_interface(const std::string& name) {
  bool printable_ascii = std::all_of(
      name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f && c != '/' && c != ':'; });
  if (name.empty() || name.size() >= IF_NAMESIZE || !printable_ascii || name == "." || name == "..")
    throw InvalidConfig("interface", fmt::format("'{}' is not an interface name (1-{} printable "
                                                 "characters, no space, '/' or ':')",
                                                 printable(name), IF_NAMESIZE - 1));
}

void check_source_prefix(const IpPrefix& prefix, std::uint8_t family, const std::string& path) {
  const std::string text = prefix.to_string();
  if (prefix.address.family != family) throw InvalidConfig(path, not_a_prefix(text, family));
  if (!prefix.host_bits_zero())
    throw InvalidConfig(path, fmt::format("{} has bits set past the prefix length", text));
  if (family == DF_FAMILY_V6 && prefix.length > 96)
    throw InvalidConfig(
        path, fmt::format("{} is longer than /96 (the data plane fills the last 32 bits)", text));
}

void check_sizes(const Config& c) {
  check_range(c.conn_table_size, {1, 1U << 28}, "conn_table_size");
  check_range(c.conn_table_insert_rate, {0, 1U << 30}, "conn_table_insert_rate");
  check_range(c.udp_idle_timeout_s, {0, 86400}, "udp_idle_timeout");
  if (c.max_packet_size) check_range(*c.max_packet_size, {0, 65535}, "max_packet_size");
  check_range(c.ring_size, {3, Maglev::kMaxRingSize}, "ring_size");
  if (!Maglev::is_prime(c.ring_size))
    throw InvalidConfig("ring_size", fmt::format("{} is not a prime", c.ring_size));
  check_range(c.max_vips, {1, DF_MAX_VIP_ADDRS}, "max_vips");
  check_range(c.max_reals, {2, 1U << 20}, "max_reals");
  if (std::uint64_t{c.max_vips} * DF_RINGS_PER_VIP * c.ring_size > kMaxRingEntries)
    throw InvalidConfig("max_vips",
                        fmt::format("{} VIPs x {} rings x {} slots is over 2^31 ring entries",
                                    c.max_vips, DF_RINGS_PER_VIP, c.ring_size));
}

std::uint32_t known_vip_flags() {
  std::uint32_t known = 0;
  for (const std::string& name : vip_flag_names(~std::uint32_t{0})) known |= *parse_vip_flag(name);
  return known;
}

// Probes: at least 10 a second per real at most, none rarer than once an hour.
constexpr Range kHealthInterval{100, 3'600'000};
constexpr std::size_t kMaxHealthText = 512;

void check_health_text(const std::string& text, const std::string& path,
                       const std::string& subject) {
  if (text.size() > kMaxHealthText)
    throw InvalidConfig(path, fmt::format("{} bytes, more than {}", text.size(), kMaxHealthText),
                        subject);
}

// A key that only one type reads, set for another: a mistake, not something to ignore.
void check_health_keys(const HealthCheck& h, const std::string& path, const std::string& subject) {
  const HealthCheck defaults;
  struct Only {
    const char* key;
    HealthType type;  // the one that reads it
    bool set;
  };
  const Only only[] = {{"path", HealthType::http, h.path != defaults.path},
                       {"status", HealthType::http, h.status != defaults.status},
                       {"payload", HealthType::udp, !h.payload.empty()},
                       {"expect", HealthType::udp, !h.expect.empty()}};
  for (const Only& o : only)
    if (o.set && h.type != o.type)
      throw InvalidConfig(
          path + "." + o.key,
          fmt::format("'{}' is for {} checks, not {}", o.key, to_string(o.type), to_string(h.type)),
          subject);
}

void check_health(const HealthCheck& h, const std::string& path, const std::string& subject) {
  check_health_keys(h, path, subject);
  if (h.type == HealthType::none) return;
  check_range(h.interval_ms, kHealthInterval, path + ".interval", subject);
  check_range(h.timeout_ms, {1, h.interval_ms}, path + ".timeout", subject);
  check_range(h.rise, {1, 100}, path + ".rise", subject);
  check_range(h.fall, {1, 100}, path + ".fall", subject);
  if (h.type == HealthType::http) {
    check_range(h.status, {100, 599}, path + ".status", subject);
    if (h.path.empty() || h.path[0] != '/' || h.path.find_first_of(" \t\r\n") != std::string::npos)
      throw InvalidConfig(path + ".path",
                          fmt::format("'{}' is not a request path (/..., no spaces)", h.path),
                          subject);
    check_health_text(h.path, path + ".path", subject);
  }
  check_health_text(h.payload, path + ".payload", subject);
  check_health_text(h.expect, path + ".expect", subject);
}

// The hash choices: one at most, and the destination port alone only where ports differ.
void check_hash_flags(const VipConfig& vip, const std::string& path) {
  const std::vector<std::string> choices = vip_flag_names(vip.flags & DF_VIP_HASH_CHOICES);
  if (choices.size() > 1)
    throw InvalidConfig(
        path + ".flags",
        fmt::format("{} each choose what the ring hashes: give one", fmt::join(choices, " and ")),
        "VIP " + vip_name(vip));
  if ((vip.flags & DF_VIP_HASH_DPORT_ONLY) && vip.port != DF_VIP_ANY_PORT)
    throw InvalidConfig(path + ".flags",
                        fmt::format("dport_hash_only is for any-port VIPs (port *): on port {} it "
                                    "would send every flow to one real",
                                    vip.port),
                        "VIP " + vip_name(vip));
}

// A probe of an any-port VIP has no port to borrow from it: each check names its own.
void check_health_port(const VipConfig& vip, const HealthCheck& h, const std::string& path,
                       const std::string& subject) {
  if (vip.port == DF_VIP_ANY_PORT && h.type != HealthType::none && h.port == 0)
    throw InvalidConfig(path + ".port",
                        "an any-port VIP's health check needs a port (health.port: 1-65535)",
                        subject);
}

void check_real(const VipConfig& vip, const RealConfig& real, const std::string& path) {
  if (vip.address.is_v6() && real.address.is_v4())
    throw InvalidConfig(
        path + ".address",
        fmt::format("IPv4 real {} behind IPv6 VIP {} (the data plane cannot send IPv6 in IPv4)",
                    real.address.to_string(), vip.address.to_string()));
  check_range(real.weight, {0, kMaxWeight}, path + ".weight",
              fmt::format("weight of real {} in VIP {}", real.address.to_string(), vip_name(vip)));
  if (real.health) {
    const std::string subject =
        fmt::format("health of real {} in VIP {}", real.address.to_string(), vip_name(vip));
    check_health(*real.health, path + ".health", subject);
    check_health_port(vip, *real.health, path + ".health", subject);
  }
}

// A prefix VIP holds more than one address and fewer than all: a single address is written
// without a length (it is the more specific VIP, vip_cache.h), and a prefix that held every
// address would take the balancer's own traffic.
void check_vip_prefix(const VipConfig& vip, const std::string& path) {
  if (!vip.prefix_len) return;
  const IpPrefix prefix = ServiceKey::of(vip).addresses();
  const unsigned bits = vip.address.size() * 8;
  if (*vip.prefix_len < 1 || *vip.prefix_len >= bits)
    throw InvalidConfig(
        path + ".address",
        fmt::format("{}: a prefix VIP's length is 1-{} for {} (an address alone takes none: {})",
                    prefix.to_string(), bits - 1, vip.address.is_v4() ? "IPv4" : "IPv6",
                    vip.address.to_string()),
        "VIP " + vip_name(vip));
  if (!prefix.host_bits_zero())
    throw InvalidConfig(path + ".address",
                        fmt::format("{} has bits set past the prefix length (the prefix is {})",
                                    prefix.to_string(), prefix.network().to_string()),
                        "VIP " + vip_name(vip));
}

void check_vip(const VipConfig& vip, const std::string& path) {
  check_vip_prefix(vip, path);
  if (vip.flags & ~known_vip_flags())
    throw InvalidConfig(
        path + ".flags",
        fmt::format("{:#x} has bits that are not VIP flags ({})", vip.flags, vip_flag_list()),
        "VIP " + vip_name(vip));
  check_hash_flags(vip, path);
  check_health(vip.health, path + ".health", "health of VIP " + vip_name(vip));
  check_health_port(vip, vip.health, path + ".health", "health of VIP " + vip_name(vip));
  std::map<IpAddress, std::size_t> seen;
  for (std::size_t i = 0; i < vip.reals.size(); ++i) {
    const RealConfig& real = vip.reals[i];
    const std::string rpath = fmt::format("{}.reals[{}]", path, i);
    check_real(vip, real, rpath);
    auto [it, fresh] = seen.emplace(real.address, i);
    if (!fresh)
      throw InvalidConfig(
          rpath + ".address",
          fmt::format("{} is already reals[{}] of this VIP", real.address.to_string(), it->second),
          "VIP " + vip_name(vip));
  }
}

// A real is one entry of the data plane, whichever VIPs it serves: one encapsulation. An entry
// that names none takes the one another names (real_encaps), so only two names can disagree.
void check_real_encaps(const Config& c) {
  std::map<IpAddress, std::pair<Encap, std::string>> named;
  for (std::size_t i = 0; i < c.vips.size(); ++i)
    for (std::size_t j = 0; j < c.vips[i].reals.size(); ++j) {
      const RealConfig& r = c.vips[i].reals[j];
      if (!r.encap) continue;
      const std::string path = fmt::format("vips[{}].reals[{}]", i, j);
      auto [it, fresh] = named.emplace(r.address, std::pair{*r.encap, path});
      if (!fresh && it->second.first != *r.encap)
        throw InvalidConfig(
            path + ".encap",
            fmt::format("real {} is {} here and {} in {}: a real has one encapsulation",
                        r.address.to_string(), to_string(*r.encap), to_string(it->second.first),
                        it->second.second));
    }
}

void check_vips(const Config& c) {
  std::map<ServiceKey, std::size_t> seen;
  std::set<IpAddress> reals;
  for (std::size_t i = 0; i < c.vips.size(); ++i) {
    const VipConfig& vip = c.vips[i];
    const std::string path = fmt::format("vips[{}]", i);
    check_vip(vip, path);
    auto [it, fresh] = seen.emplace(ServiceKey::of(vip), i);
    if (!fresh)
      throw InvalidConfig(path, fmt::format("{} is already vips[{}]", vip_name(vip), it->second));
    for (const RealConfig& r : vip.reals) reals.insert(r.address);
  }
  check_real_encaps(c);
  if (c.vips.size() > c.max_vips)
    throw InvalidConfig("vips",
                        fmt::format("{} VIPs, more than max_vips ({})", c.vips.size(), c.max_vips));
  if (reals.size() > c.max_reals - 1)
    throw InvalidConfig(
        "vips", fmt::format("{} distinct reals, more than max_reals - 1 ({}; id 0 is never a real)",
                            reals.size(), c.max_reals - 1));
}

}  // namespace

InvalidConfig::InvalidConfig(std::string path, std::string reason, std::string subject)
    : Error(fmt::format("{}: {}", path, reason)),
      path_(std::move(path)),
      reason_(std::move(reason)),
      subject_(std::move(subject)) {}

std::string InvalidConfig::in_words() const {
  return subject_.empty() ? reason_ : fmt::format("{}: {}", subject_, reason_);
}

std::string not_a_prefix(std::string_view text, std::uint8_t family) {
  return fmt::format("'{}' is not an {} prefix (address/length)", text,
                     family == DF_FAMILY_V4 ? "IPv4" : "IPv6");
}

// BIRD reads the include from its own working directory, the daemon writes it from its own:
// only an absolute path means one file to both.
void check_announce(const AnnounceConfig& a) {
  for (const auto& [key, path] : {std::pair{"announce.bird_socket", &a.bird_socket},
                                  std::pair{"announce.include", &a.include}})
    if (!std::filesystem::path(*path).is_absolute())
      throw InvalidConfig(key, fmt::format("'{}' is not an absolute path", *path));
  check_range(a.stop_delay_s, {0, 600}, "announce.stop_delay");
}

void validate_config(const Config& config) {
  check_interface(config.interface);
  check_source_prefix(config.src4_prefix, DF_FAMILY_V4, "source_prefixes.ipv4");
  check_source_prefix(config.src6_prefix, DF_FAMILY_V6, "source_prefixes.ipv6");
  check_sizes(config);
  check_range(config.gue_port, {1, 65535}, "gue_port");
  check_vips(config);
  if (config.announce) check_announce(*config.announce);
}

}  // namespace dogfish
