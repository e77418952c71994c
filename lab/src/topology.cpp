#include "dogfish/lab/topology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "dogfish/errors.hpp"
#include "dogfish/yaml_reader.hpp"

namespace dogfish::lab {
namespace {

// Names become parts of namespace and interface names (IFNAMSIZ is 16): short, plain.
bool plain_name(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

class TopologyParser : YamlReader {
 public:
  using YamlReader::YamlReader;
  Topology parse(const YAML::Node& root);

 private:
  Node node(const YAML::Node& n, const std::string& path) const;
  Route route(const YAML::Node& n, const std::string& path) const;
  Link link(const YAML::Node& n, const std::string& path, const Topology& t) const;
  LinkEnd end(const YAML::Node& n, const std::string& path, const Topology& t) const;
  LabVip vip(const YAML::Node& n, const std::string& path, const Topology& t) const;
  LabReal real(const YAML::Node& n, const std::string& path, const Topology& t,
               const IpAddress& vip) const;
  IpPrefix prefix(const YAML::Node& n, const std::string& path, bool host_bits_allowed) const;

  template <typename F>
  void each(const YAML::Node& list, const std::string& path, F f) const {
    if (!list.IsSequence()) fail(list, path, "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) f(list[i], fmt::format("{}[{}]", path, i));
  }
};

IpPrefix TopologyParser::prefix(const YAML::Node& n, const std::string& path,
                                bool host_bits_allowed) const {
  auto text = scalar(n, path);
  auto p = IpPrefix::parse(text);
  if (!p) fail(n, path, fmt::format("'{}' is not address/length", text));
  if (!host_bits_allowed && !p->host_bits_zero())
    fail(n, path, fmt::format("{} has bits set past the prefix length", text));
  return *p;
}

Route TopologyParser::route(const YAML::Node& n, const std::string& path) const {
  auto m = entries(n, path, {"to", "via"});
  Route r;
  r.via = address(require(m, n, path, "via"), join(path, "via"));
  auto to = require(m, n, path, "to");
  if (scalar(to, join(path, "to")) != "default") r.to = prefix(to, join(path, "to"), false);
  if (r.to && r.to->address.family != r.via.family)
    fail(to, join(path, "to"),
         fmt::format("{} and via {} are of different families", r.to->to_string(),
                     r.via.to_string()));
  return r;
}

Node TopologyParser::node(const YAML::Node& n, const std::string& path) const {
  auto m = entries(n, path, {"name", "role", "decap", "routes"}, {"routes"});
  Node out;
  auto name = require(m, n, path, "name");
  out.name = scalar(name, join(path, "name"));
  if (!plain_name(out.name, 8))
    fail(name, join(path, "name"),
         fmt::format("'{}' is not 1-8 lowercase letters and digits, from a letter", out.name));
  auto role = require(m, n, path, "role");
  auto r = scalar(role, join(path, "role"));
  if (r == "client")
    out.role = Role::client;
  else if (r == "gateway")
    out.role = Role::gateway;
  else if (r == "balancer")
    out.role = Role::balancer;
  else if (r == "real")
    out.role = Role::real;
  else
    fail(role, join(path, "role"),
         fmt::format("'{}' is not a role (client, gateway, balancer, real)", r));
  if (auto it = m.find("decap"); it != m.end()) {
    auto d = scalar(it->second, join(path, "decap"));
    if (out.role != Role::real) fail(it->second, join(path, "decap"), "only reals decapsulate");
    if (d == "bpf")
      out.decap = Decap::bpf;
    else if (d == "kernel")
      out.decap = Decap::kernel;
    else
      fail(it->second, join(path, "decap"), fmt::format("'{}' is not bpf or kernel", d));
  }
  if (auto it = m.find("routes"); it != m.end() && !it->second.IsNull())
    each(it->second, join(path, "routes"),
         [&](const YAML::Node& rn, const std::string& p) { out.routes.push_back(route(rn, p)); });
  return out;
}

LinkEnd TopologyParser::end(const YAML::Node& n, const std::string& path, const Topology& t) const {
  auto m = entries(n, path, {"node", "addresses"});
  LinkEnd e;
  auto node = require(m, n, path, "node");
  e.node = scalar(node, join(path, "node"));
  if (!t.node(e.node)) fail(node, join(path, "node"), fmt::format("no node named '{}'", e.node));
  each(require(m, n, path, "addresses"), join(path, "addresses"),
       [&](const YAML::Node& an, const std::string& p) {
         e.addresses.push_back(prefix(an, p, true));
       });
  return e;
}

Link TopologyParser::link(const YAML::Node& n, const std::string& path, const Topology& t) const {
  auto m = entries(n, path, {"ends", "mtu"});
  Link l;
  auto ends = require(m, n, path, "ends");
  if (!ends.IsSequence() || ends.size() != 2)
    fail(ends, join(path, "ends"), "a link has exactly two ends");
  l.a = end(ends[0], join(path, "ends[0]"), t);
  l.b = end(ends[1], join(path, "ends[1]"), t);
  if (l.a.node == l.b.node)
    fail(ends, join(path, "ends"), fmt::format("both ends are on '{}'", l.a.node));
  if (auto it = m.find("mtu"); it != m.end())
    l.mtu = number(it->second, join(path, "mtu"), 1280, 9000);
  return l;
}

LabReal TopologyParser::real(const YAML::Node& n, const std::string& path, const Topology& t,
                             const IpAddress& vip) const {
  auto m = entries(n, path, {"node", "weight", "address"});
  LabReal r;
  auto node = require(m, n, path, "node");
  r.node = scalar(node, join(path, "node"));
  const Node* target = t.node(r.node);
  if (!target) fail(node, join(path, "node"), fmt::format("no node named '{}'", r.node));
  if (target->role != Role::real)
    fail(node, join(path, "node"),
         fmt::format("'{}' is a {}, not a real", r.node, role_name(target->role)));
  if (auto it = m.find("weight"); it != m.end())
    r.weight = number(it->second, join(path, "weight"), 0, 65535);

  std::vector<IpAddress> own;
  for (const Link* l : t.links_of(r.node))
    for (const IpPrefix& p : (l->a.node == r.node ? l->a : l->b).addresses)
      own.push_back(p.address);
  if (auto it = m.find("address"); it != m.end()) {
    r.address = address(it->second, join(path, "address"));
    if (std::find(own.begin(), own.end(), r.address) == own.end())
      fail(it->second, join(path, "address"),
           fmt::format("{} is not an address of '{}'", r.address.to_string(), r.node));
    if (vip.is_v6() && r.address.is_v4())
      fail(it->second, join(path, "address"), "an IPv6 VIP needs an IPv6 real (no 6-in-4)");
  } else {
    auto same = std::find_if(own.begin(), own.end(),
                             [&](const IpAddress& a) { return a.family == vip.family; });
    if (same == own.end())
      fail(node, join(path, "node"),
           fmt::format("'{}' has no {} address for VIP {}", r.node, vip.is_v4() ? "IPv4" : "IPv6",
                       vip.to_string()));
    r.address = *same;
  }
  return r;
}

LabVip TopologyParser::vip(const YAML::Node& n, const std::string& path, const Topology& t) const {
  auto m = entries(n, path, {"address", "services", "reals"});
  LabVip v;
  v.address = address(require(m, n, path, "address"), join(path, "address"));
  std::set<std::pair<std::uint16_t, Proto>> seen;
  auto services = require(m, n, path, "services");
  each(services, join(path, "services"), [&](const YAML::Node& sn, const std::string& p) {
    auto sm = entries(sn, p, {"port", "proto"});
    Service s;
    s.port =
        static_cast<std::uint16_t>(number(require(sm, sn, p, "port"), join(p, "port"), 1, 65535));
    auto proto = require(sm, sn, p, "proto");
    auto text = scalar(proto, join(p, "proto"));
    if (text == "tcp")
      s.proto = Proto::tcp;
    else if (text == "udp")
      s.proto = Proto::udp;
    else
      fail(proto, join(p, "proto"), fmt::format("'{}' is not tcp or udp", text));
    if (!seen.emplace(s.port, s.proto).second)
      fail(sn, p, fmt::format("{}/{} is listed twice", s.port, text));
    v.services.push_back(s);
  });
  if (v.services.empty())
    fail(services, join(path, "services"), "a VIP needs at least one service");
  auto reals = require(m, n, path, "reals");
  std::set<std::string> names;
  each(reals, join(path, "reals"), [&](const YAML::Node& rn, const std::string& p) {
    LabReal r = real(rn, p, t, v.address);
    if (!names.insert(r.node).second) fail(rn, p, fmt::format("'{}' is listed twice", r.node));
    v.reals.push_back(r);
  });
  if (v.reals.empty()) fail(reals, join(path, "reals"), "a VIP needs at least one real");
  return v;
}

Topology TopologyParser::parse(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) throw ConfigError(file(), 0, "the file is empty");
  auto m = entries(root, "", {"name", "nodes", "links", "vips", "balancer"});
  Topology t;
  auto name = require(m, root, "", "name");
  t.name = scalar(name, "name");
  if (!plain_name(t.name, 8))
    fail(name, "name",
         fmt::format("'{}' is not 1-8 lowercase letters and digits, from a letter", t.name));

  auto nodes = require(m, root, "", "nodes");
  each(nodes, "nodes", [&](const YAML::Node& n, const std::string& p) {
    Node node = this->node(n, p);
    if (t.node(node.name)) fail(n, p, fmt::format("a second node named '{}'", node.name));
    t.nodes.push_back(std::move(node));
  });
  auto count = [&](Role r) {
    return std::count_if(t.nodes.begin(), t.nodes.end(),
                         [r](const Node& n) { return n.role == r; });
  };
  for (Role r : {Role::gateway, Role::balancer})
    if (count(r) != 1)
      fail(nodes, "nodes",
           fmt::format("a lab has exactly one {} ({} given)", role_name(r), count(r)));
  for (Role r : {Role::client, Role::real})
    if (count(r) < 1)
      fail(nodes, "nodes", fmt::format("a lab needs at least one {}", role_name(r)));

  auto links = require(m, root, "", "links");
  std::set<IpAddress> addresses;
  each(links, "links", [&](const YAML::Node& n, const std::string& p) {
    Link l = link(n, p, t);
    for (const LinkEnd* e : {&l.a, &l.b})
      for (const IpPrefix& a : e->addresses)
        if (!addresses.insert(a.address).second)
          fail(n, p, fmt::format("{} is used twice", a.address.to_string()));
    t.links.push_back(std::move(l));
  });
  for (const Node& n : t.nodes) {
    auto touching = t.links_of(n.name).size();
    if (touching == 0) fail(links, "links", fmt::format("node '{}' has no link", n.name));
    // XDP_TX answers out of the interface a packet came in on: one link, to the gateway.
    if (n.role == Role::balancer && touching != 1)
      fail(links, "links",
           fmt::format("the balancer '{}' needs exactly one link ({} given)", n.name, touching));
  }

  if (auto it = m.find("vips"); it != m.end())
    each(it->second, "vips", [&](const YAML::Node& n, const std::string& p) {
      LabVip v = vip(n, p, t);
      if (std::any_of(t.vips.begin(), t.vips.end(),
                      [&](const LabVip& o) { return o.address == v.address; }))
        fail(n, p, fmt::format("VIP {} is listed twice", v.address.to_string()));
      t.vips.push_back(std::move(v));
    });

  if (auto it = m.find("balancer"); it != m.end()) {
    auto bm = entries(it->second, "balancer",
                      {"source_prefixes", "xdp_mode", "conn_table_size", "conn_table_insert_rate"});
    if (auto n = bm.find("conn_table_size"); n != bm.end())
      t.balancer.conn_table_size = number(n->second, "balancer.conn_table_size", 1, 1U << 28);
    if (auto n = bm.find("conn_table_insert_rate"); n != bm.end())
      t.balancer.conn_table_insert_rate =
          number(n->second, "balancer.conn_table_insert_rate", 0, 1U << 30);
    if (auto sp = bm.find("source_prefixes"); sp != bm.end()) {
      auto pm = entries(sp->second, "balancer.source_prefixes", {"ipv4", "ipv6"});
      if (auto v4 = pm.find("ipv4"); v4 != pm.end())
        t.balancer.src4_prefix = prefix(v4->second, "balancer.source_prefixes.ipv4", false);
      if (auto v6 = pm.find("ipv6"); v6 != pm.end())
        t.balancer.src6_prefix = prefix(v6->second, "balancer.source_prefixes.ipv6", false);
      if (!t.balancer.src4_prefix.address.is_v4())
        fail(sp->second, "balancer.source_prefixes.ipv4", "not an IPv4 prefix");
      if (!t.balancer.src6_prefix.address.is_v6())
        fail(sp->second, "balancer.source_prefixes.ipv6", "not an IPv6 prefix");
    }
    if (auto xm = bm.find("xdp_mode"); xm != bm.end()) {
      auto text = scalar(xm->second, "balancer.xdp_mode");
      if (text == "native")
        t.balancer.xdp_mode = XdpMode::native;
      else if (text == "generic")
        t.balancer.xdp_mode = XdpMode::generic;
      else if (text == "auto")
        t.balancer.xdp_mode = XdpMode::automatic;
      else
        fail(xm->second, "balancer.xdp_mode",
             fmt::format("'{}' is not native, generic or auto", text));
    }
  }
  return t;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::client:
      return "client";
    case Role::gateway:
      return "gateway";
    case Role::balancer:
      return "balancer";
    case Role::real:
      return "real";
  }
  return "?";
}

const Node* Topology::node(std::string_view name) const {
  auto it = std::find_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.name == name; });
  return it == nodes.end() ? nullptr : &*it;
}

std::vector<const Link*> Topology::links_of(std::string_view node) const {
  std::vector<const Link*> out;
  for (const Link& l : links)
    if (l.a.node == node || l.b.node == node) out.push_back(&l);
  return out;
}

Topology parse_topology(std::string_view text, const std::string& file) {
  return TopologyParser(file).parse(YamlReader::load(text, file));
}

Topology load_topology(const std::filesystem::path& path) {
  return parse_topology(YamlReader::read_file(path.string()), path.string());
}

}  // namespace dogfish::lab
