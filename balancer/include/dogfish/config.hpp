// The balancer's configuration: a plain struct with defaults, read from YAML. Its rules are
// checked by validate_config (config_validation.hpp); its data-plane form is df_structs.hpp's.
//
//   interface: eth0
//   xdp_mode: auto                 # native | generic | auto
//   gateway: 10.0.0.1              # an address (resolved later) or a MAC (02:00:00:00:00:01)
//   source_prefixes: { ipv4: 172.16.0.0/12, ipv6: "fd00:df::/96" }
//   conn_table_size: 1000000
//   udp_idle_timeout: 30           # seconds; 0 = UDP flows never expire
//   max_packet_size: auto          # largest outer packet; auto = the interface's MTU; 0 = no limit
//   icmp_echo: true                # answer pings to VIP addresses
//   icmp_errors_to_reals: true     # ICMP errors about a VIP's flows go to the flow's real
//   encap: ipip                    # ipip | gue: how packets reach a real that names none
//   gue_port: 6080                 # UDP destination port of GUE packets
//   ring_size: 65537
//   max_vips: 64
//   max_reals: 4096
//   announce:                      # absent: the daemon announces nothing
//     bird_socket: /run/bird/bird.ctl
//     include: /etc/bird/dogfish-vips.conf
//     stop_delay: 2                # seconds between the withdrawal at stop and the detach
//   metrics_listen: 127.0.0.1:9773 # GET /metrics (http_server.hpp); off (the default): none
//   vips:
//     - address: 10.100.0.1        # or a prefix, 10.100.1.0/24: every address in it (a prefix VIP)
//       port: 80                   # or "*" / any: every port the address's other VIPs leave
//       proto: tcp                 # tcp | udp
//       flags: [no_conn_table, src_hash_only]  # and no_src_port_hash, dport_hash_only
//       health: { type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 3 }  # health_check.hpp
//       reals:
//         - { address: 10.0.1.1, weight: 2 }   # weight defaults to 1; 0 drains
//         - { address: 10.0.1.2, health: { port: 8080 } }  # overrides the VIP's keys it names
//         - { address: 10.0.1.3, encap: gue }  # in every VIP it serves: name it once
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dogfish/base/address.hpp"
#include "dogfish/base/balancer_schema.hpp"
#include "dogfish/base/encap.hpp"
#include "dogfish/base/proto.hpp"
#include "dogfish/base/xdp.hpp"
#include "dogfish/health_check.hpp"

namespace dogfish {

struct RealConfig {
  IpAddress address;
  std::uint32_t weight = 1;
  std::optional<HealthCheck> health;  // the VIP's, with this real's keys over it; none: the VIP's
  std::optional<Encap> encap;         // none: as another VIP's entry names it, else Config::encap

  bool operator==(const RealConfig&) const = default;
};

struct VipConfig {
  IpAddress address;       // a prefix VIP's: the prefix's (host bits zero)
  std::uint16_t port = 0;  // host byte order; DF_VIP_ANY_PORT (0): every port
  Proto proto = Proto::tcp;
  std::uint32_t flags = 0;  // DF_VIP_*
  HealthCheck health;       // for every real that does not override it
  std::vector<RealConfig> reals;
  // A prefix VIP (every address of address/prefix_len) has one; a VIP of one address none.
  std::optional<std::uint8_t> prefix_len;

  bool operator==(const VipConfig&) const = default;
};

// Not set, an address whose MAC the daemon resolves, or a MAC given outright.
using Gateway = std::variant<std::monostate, IpAddress, MacAddress>;

// How the daemon has BIRD announce its VIPs (announcer.hpp): the file BIRD includes, and the
// control socket it is told to re-read its configuration on.
struct AnnounceConfig {
  std::string bird_socket;
  std::string include;
  std::uint32_t stop_delay_s = 2;

  bool operator==(const AnnounceConfig&) const = default;
};

struct Config {
  std::string interface;
  XdpMode xdp_mode = XdpMode::automatic;
  Gateway gateway;
  IpPrefix src4_prefix = *IpPrefix::parse(kDefaultSrc4Prefix);
  IpPrefix src6_prefix = *IpPrefix::parse(kDefaultSrc6Prefix);
  std::uint32_t conn_table_size = DF_DEFAULT_CONN_ENTRIES;
  std::uint32_t conn_table_insert_rate = DF_DEFAULT_CONN_INSERT_RATE;  // per CPU a second; 0 = any
  std::uint32_t udp_idle_timeout_s = 30;                               // 0 = never expire
  // Nothing is `auto`: the interface's MTU, which the daemon reads at each apply. 0 = no limit.
  std::optional<std::uint32_t> max_packet_size;
  bool icmp_echo = true;
  bool icmp_errors_to_reals = true;
  Encap encap = Encap::ipip;  // of every real that names none
  std::uint16_t gue_port = DF_DEFAULT_GUE_PORT;
  std::uint32_t ring_size = DF_DEFAULT_RING_SIZE;
  std::uint32_t max_vips = DF_DEFAULT_MAX_VIPS;
  std::uint32_t max_reals = DF_DEFAULT_MAX_REALS;  // real ids 1..max_reals-1
  std::vector<VipConfig> vips;
  std::optional<AnnounceConfig> announce;
  std::optional<Endpoint> metrics_listen;  // where GET /metrics is served; read at start only

  bool operator==(const Config&) const = default;
};

// What identifies a VIP (a service): address (or prefix), port, protocol.
struct ServiceKey {
  IpAddress address;
  std::uint16_t port = 0;  // host byte order
  Proto proto = Proto::tcp;
  std::optional<std::uint8_t> prefix_len;  // a prefix VIP's

  static ServiceKey of(const VipConfig& vip) {
    return {vip.address, vip.port, vip.proto, vip.prefix_len};
  }
  // The addresses the VIP lives on: its prefix, or its address alone (all of its bits).
  IpPrefix addresses() const;
  auto operator<=>(const ServiceKey&) const = default;
};

// Parses YAML text and validates it; `file` names it in errors. Throws ConfigError
// "file:line: path: reason".
Config parse_config(std::string_view text, const std::string& file);

// Reads and parses a file. Throws ConfigError (also when the file cannot be read).
Config load_config(const std::filesystem::path& path);

// "10.0.0.1:80/tcp", "[fd00::1]:53/udp", "10.0.0.1:*/tcp" (any port), "10.0.1.0/24:80/tcp",
// "[fd00:1::/120]:*/udp" (prefix VIPs)
std::string to_string(const ServiceKey& key);
// "10.0.0.1:80", "[fd00::1]:*", "10.0.1.0/24:80": the VIP's address and port, as a request
// carries them.
std::string vip_endpoint(const ServiceKey& key);
// A VIP as a command names it: ADDRESS:PORT ([IPv6]:PORT; PORT * or any for an any-port VIP;
// ADDRESS/LENGTH for a prefix VIP) with the protocol given apart, or with it, as to_string prints
// it ("10.0.0.1:53/udp"). Given both ways, they must agree; given neither, tcp. Throws Error
// naming the text. A prefix's rules (length, host bits) are validate_config's.
ServiceKey parse_service(std::string_view text, std::optional<Proto> proto = std::nullopt);
// A VIP's address as a file or a command writes it: "10.0.0.1", or "10.0.1.0/24" for a prefix
// VIP. Nothing when it is neither (a length past the family's bits included).
struct VipAddress {
  IpAddress address;
  std::optional<std::uint8_t> prefix_len;
};
std::optional<VipAddress> parse_vip_address(std::string_view text);
// "10.0.0.1", "10.0.1.0/24": the address part of a VIP's name.
std::string vip_address_text(const ServiceKey& key);
std::string vip_name(const VipConfig& vip);

// The check a real of `vip` gets: its own, or the VIP's.
const HealthCheck& health_of(const VipConfig& vip, const RealConfig& real);

// Every real's encapsulation by address: the one an entry of it names (in any VIP: a real is
// one entry of the data plane, and validate_config allows one name per address), else the
// balancer's.
std::map<IpAddress, Encap> real_encaps(const Config& config);

}  // namespace dogfish
