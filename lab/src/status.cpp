#include "dogfish/lab/status.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>

#include "dogfish/base/bpffs.hpp"
#include "dogfish/lab/bird.hpp"
#include "dogfish/lab/netlink.hpp"
#include "dogfish/lab/netns.hpp"
#include "dogfish/lab/plan.hpp"
#include "dogfish/lab/state.hpp"
#include "dogfish/lab/topology.hpp"

namespace dogfish::lab {

using nlohmann::json;

namespace {

// Where the lab lives on the host, whether or not one is up.
json place() { return {{"prefix", lab_prefix()}, {"record_dir", state_dir().string()}}; }

// dogfish-decap's pins of a node, when the record says down removes them: the node runs
// BPF decap. Named by the namespace's inode (bpffs.hpp), which only the live namespace has.
std::optional<std::string> decap_pins_of(const std::string& netns, const LabState& st) {
  struct stat ns {};
  if (netns.empty() || stat(netns_path(netns).c_str(), &ns) != 0) return std::nullopt;
  const auto dir = decap_netns_pin_dir(ns.st_ino);
  if (std::find(st.pin_dirs.begin(), st.pin_dirs.end(), dir) == st.pin_dirs.end())
    return std::nullopt;
  return dir.string();
}

// The states of a balancer's BGP sessions, by family, as its BIRD says; null without BGP.
json bgp_status(const LabState& st, const std::string& node) {
  const auto socket = st.bird_sockets.find(node);
  if (socket == st.bird_sockets.end()) return nullptr;
  json out = json::object();
  try {
    for (const auto& [name, session] : bgp_sessions(socket->second))
      for (bool v4 : {true, false})
        if (name == session_name("gw", v4)) out[v4 ? "ipv4" : "ipv6"] = session.state;
  } catch (const std::exception& e) {
    out["error"] = e.what();
  }
  return out;
}

json balancer_status(const LabState& st, const LabBalancer& b) {
  const auto netns = st.node_netns.find(b.node);
  json out = {{"node", b.node},
              {"netns", netns == st.node_netns.end() ? "" : netns->second},
              {"interface", b.interface},
              {"gateway_interface", b.gateway_interface},
              {"socket", b.socket.string()},
              {"config", b.config.string()},
              {"pin_dir", b.pin_dir.string()},
              {"metrics", kLabMetricsListen},
              {"standby", b.standby},
              {"pid", nullptr},
              {"running", false},
              {"bgp", bgp_status(st, b.node)}};
  for (const LabProcess& p : st.processes)
    if (p.role == ProcessRole::balancer && p.node == b.node) {
      out["pid"] = p.id.pid;
      out["running"] = is_running(p.id);
    }
  return out;
}

}  // namespace

json no_lab_status() {
  json j = {{"up", false}};
  j.update(place());
  return j;
}

std::optional<json> lab_status() {
  const auto st = load_state();
  if (!st) return std::nullopt;
  const Topology t = load_topology(st->topology);
  json nodes = json::array();
  for (const Node& n : t.nodes) {
    const auto it = st->node_netns.find(n.name);
    const std::string netns = it == st->node_netns.end() ? "" : it->second;
    json addresses = json::array();
    if (!netns.empty() && netns_exists(netns))
      for (const IpPrefix& p : Netlink(netns).addresses()) addresses.push_back(p.to_string());
    json node = {
        {"name", n.name}, {"role", to_string(n.role)}, {"netns", netns}, {"addresses", addresses}};
    if (auto it = st->decap.find(n.name); it != st->decap.end()) node["decap"] = it->second;
    if (auto pins = decap_pins_of(netns, *st)) node["decap_pin_dir"] = *pins;
    if (auto it = st->bird_sockets.find(n.name); it != st->bird_sockets.end())
      node["bird_socket"] = it->second.string();
    nodes.push_back(node);
  }
  json vips = json::array();
  for (const LabVip& v : t.vips)
    for (const Service& s : v.services) {
      json reals = json::array();
      for (const LabReal& r : v.reals)
        reals.push_back(
            {{"node", r.node}, {"address", r.address.to_string()}, {"weight", r.weight}});
      vips.push_back({{"address", v.address.to_string()},
                      {"prefix_len", v.prefix_len ? json(*v.prefix_len) : json(nullptr)},
                      {"port", s.port},
                      {"proto", to_string(s.proto)},
                      {"reals", reals}});
    }
  json processes = json::array();
  for (const LabProcess& p : st->processes)
    processes.push_back({{"role", p.role},
                         {"node", p.node},
                         {"pid", p.id.pid},
                         {"running", is_running(p.id)},
                         {"log", p.log.string()}});
  json balancers = json::array();
  for (const LabBalancer& b : st->balancers) balancers.push_back(balancer_status(*st, b));
  json balancer = balancers.empty() ? json::object() : balancers[0];
  balancer["source_prefixes"] = {{"ipv4", t.balancer.src4_prefix.to_string()},
                                 {"ipv6", t.balancer.src6_prefix.to_string()}};
  balancer["encap"] = to_string(t.balancer.encap);
  balancer["gue_port"] = t.balancer.gue_port;
  json pin_dirs = json::array();
  for (const auto& d : st->pin_dirs) pin_dirs.push_back(d.string());
  json out = {{"up", st->phase == Phase::up},
              {"phase", st->phase},
              {"name", st->name},
              {"topology", st->topology.string()},
              {"nodes", nodes},
              {"vips", vips},
              {"balancer", balancer},
              {"balancers", balancers},
              {"processes", processes},
              {"pin_dirs", pin_dirs}};
  out.update(place());
  return out;
}

void print_status(const json& s, std::ostream& out) {
  out << fmt::format("lab '{}': {}\n\n", s["name"].get<std::string>(),
                     s["up"].get<bool>() ? "up" : "half built (run dogfish-lab down)");
  out << fmt::format("{:<9} {:<9} {:<12} {}\n", "NODE", "ROLE", "NETNS", "ADDRESSES");
  for (const auto& n : s["nodes"]) {
    std::string addresses;
    for (const auto& a : n["addresses"])
      addresses += (addresses.empty() ? "" : " ") + a.get<std::string>();
    if (n.contains("decap"))
      addresses += fmt::format("  (decap: {})", n["decap"].get<std::string>());
    out << fmt::format("{:<9} {:<9} {:<12} {}\n", n["name"].get<std::string>(),
                       n["role"].get<std::string>(), n["netns"].get<std::string>(), addresses);
  }
  out << fmt::format("\n{:<22} {:<8} {}\n", "VIP", "SERVICE", "REALS (weight)");
  for (const auto& v : s["vips"]) {
    std::string reals;
    for (const auto& r : v["reals"])
      reals += fmt::format("{}{} {} ({})", reals.empty() ? "" : ", ", r["node"].get<std::string>(),
                           r["address"].get<std::string>(), r["weight"].get<unsigned>());
    out << fmt::format(
        "{:<22} {:<8} {}\n", v["address"].get<std::string>(),
        fmt::format("{}/{}", v["proto"].get<std::string>(), v["port"].get<unsigned>()), reals);
  }
  out << '\n';
  for (const auto& p : s["processes"])
    out << fmt::format("{} on {}: pid {}, {}\n", p["role"].get<std::string>(),
                       p["node"].get<std::string>(), p["pid"].get<int>(),
                       p["running"].get<bool>() ? "running" : "NOT RUNNING");
  for (const auto& b : s["balancers"]) {
    std::string bgp;
    if (b["bgp"].is_object())
      for (const auto& [family, state] : b["bgp"].items())
        bgp +=
            fmt::format("{}{} {}", bgp.empty() ? ", BGP " : ", ", family, state.get<std::string>());
    out << fmt::format("balancer {}socket: {}, metrics: http://{}/metrics in its namespace{}\n",
                       s["balancers"].size() == 1 ? "" : b["node"].get<std::string>() + " ",
                       b["socket"].get<std::string>(), b["metrics"].get<std::string>(), bgp);
  }
}

}  // namespace dogfish::lab
