#include "dogfish/lab/bird.hpp"

#include <fmt/format.h>

#include <sstream>

#include "dogfish/base/bird_control.hpp"
#include "dogfish/lab/state.hpp"

namespace dogfish::lab {
namespace {

// Timers every session shares: a balancer that goes silent is dropped at the hold time (BFD
// is faster), a session that failed is tried again after a second, not BIRD's minute.
std::string bgp_timers(const BgpSettings& bgp) {
  return fmt::format(
      "  hold time {}; keepalive time {};\n  connect delay time 1; connect retry time 1;\n"
      "  error wait time 1, 5;\n{}",
      bgp.hold_time, std::max(1U, bgp.hold_time / 3), bgp.bfd ? "  bfd on;\n" : "");
}

std::string common(const IpAddress& router_id, const BgpSettings& bgp) {
  std::string out = fmt::format(
      "router id {};\n"
      "log stderr {{ info, remote, warning, error, auth, fatal, bug }};\n"
      "protocol device {{ scan time 10; }}\n",
      router_id.to_string());
  if (bgp.bfd)
    out += fmt::format(
        "protocol bfd bfd1 {{\n  interface \"*\" {{ min rx interval {} ms; min tx interval {} ms; "
        "multiplier {}; }};\n}}\n",
        kBfdIntervalMs, kBfdIntervalMs, kBfdMultiplier);
  return out;
}

const IpPrefix* first_of(const std::vector<IpPrefix>& addrs, bool v4) {
  for (const IpPrefix& p : addrs)
    if (p.address.is_v4() == v4) return &p;
  return nullptr;
}

// One BGP session of a template, over one family, with that channel's filters.
std::string bgp_session(const std::string& name, std::string_view from, const IpAddress& neighbor,
                        std::uint32_t as, bool v4, std::string_view filters) {
  return fmt::format("protocol bgp {} from {} {{\n  neighbor {} as {};\n  {} {{ {} }};\n}}\n", name,
                     from, neighbor.to_string(), as, v4 ? "ipv4" : "ipv6", filters);
}

std::string header(const Topology& t, const std::string& node) {
  return fmt::format(
      "# Made by dogfish-lab from the topology '{}': BIRD on {}, run as\n"
      "# bird -f -c THIS -s SOCKET -P PIDFILE in its namespace.\n",
      t.name, node);
}

}  // namespace

BirdFiles bird_files(const std::string& node) {
  const std::filesystem::path dir = state_dir() / ("bird-" + node);
  return {dir,
          dir / "bird.conf",
          dir / "bird.ctl",
          dir / "bird.pid",
          dir / "vips.conf",
          dir / "bird.log"};
}

std::string session_name(const std::string& peer, bool v4) {
  return fmt::format("{}_{}", peer, v4 ? "v4" : "v6");
}

std::string gateway_bird_config(const Topology& t, const Plan& plan) {
  const BgpSettings& bgp = *t.bgp;
  std::string out = header(t, plan.gateway_node);
  out += common(first_of(plan.balancers.front().gateway_addresses, true)->address, bgp);
  out +=
      "# ECMP: a VIP announced by several balancers is one kernel route with a next hop per\n"
      "# balancer (the namespace hashes flows over them by L4: fib_multipath_hash_policy=1).\n"
      "protocol kernel kernel4 { ipv4 { import none; export all; }; merge paths on; }\n"
      "protocol kernel kernel6 { ipv6 { import none; export all; }; merge paths on; }\n";
  out += fmt::format(
      "# Passive: each balancer connects when its BIRD starts.\n"
      "template bgp balancers {{\n  local as {};\n  passive on;\n{}}}\n",
      bgp.gateway_as, bgp_timers(bgp));
  for (const PlannedBalancer& b : plan.balancers)
    for (bool v4 : {true, false}) {
      const IpPrefix* peer = first_of(b.addresses, v4);
      if (!peer || !first_of(b.gateway_addresses, v4)) continue;
      out += bgp_session(session_name(b.node, v4), "balancers", peer->address, bgp.balancer_as, v4,
                         "import all; export none;");
    }
  return out;
}

std::string balancer_bird_config(const Topology& t, const PlannedBalancer& b,
                                 const std::filesystem::path& include) {
  const BgpSettings& bgp = *t.bgp;
  std::string out = header(t, b.node);
  out += common(first_of(b.addresses, true)->address, bgp);
  out += fmt::format(
      "# The VIPs the dogfish daemon announces: static protocols dogfish_vips4 and\n"
      "# dogfish_vips6, rewritten by it followed by `configure`.\n"
      "include \"{}\";\n",
      include.string());
  out += fmt::format("template bgp to_gateway {{\n  local as {};\n{}}}\n", bgp.balancer_as,
                     bgp_timers(bgp));
  for (bool v4 : {true, false}) {
    const IpPrefix* gw = first_of(b.gateway_addresses, v4);
    if (!gw || !first_of(b.addresses, v4)) continue;
    out += bgp_session(session_name("gw", v4), "to_gateway", gw->address, bgp.gateway_as, v4,
                       "import none; export where proto ~ \"dogfish_vips*\";");
  }
  return out;
}

std::map<std::string, BgpSession> parse_bgp_sessions(const std::vector<std::string>& lines) {
  std::map<std::string, BgpSession> out;
  BgpSession* current = nullptr;
  for (const std::string& line : lines) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (!line.empty() && line[0] != ' ') {
      // "name  proto  table  state  since  info": a protocol's first line.
      std::string proto, table, state, since, info;
      words >> proto >> table >> state >> since >> info;
      current = proto == "BGP" ? &out[first] : nullptr;
      if (current) current->state = info.empty() ? state : info;
    } else if (current && first == "Routes:") {
      // "Routes:         1 imported, 0 exported, 1 preferred"
      std::string word;
      std::size_t n = 0;
      while (words >> n >> word) {
        if (word.starts_with("imported")) current->imported = n;
        if (word.starts_with("exported")) current->exported = n;
      }
    }
  }
  return out;
}

std::map<std::string, BgpSession> bgp_sessions(const std::filesystem::path& socket) {
  const BirdReply reply = BirdControl(socket.string()).command("show protocols all");
  std::vector<std::string> lines;
  for (const BirdLine& l : reply.lines)
    if (l.code == 1002 || l.code == 1006) lines.push_back(l.text);
  return parse_bgp_sessions(lines);
}

}  // namespace dogfish::lab
