#include "dogfish/lab/topology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/name_table.hpp"
#include "dogfish/base/yaml_reader.hpp"

namespace dogfish::lab {
namespace {

constexpr Named<Role> kRoles[] = {{Role::client, "client"},
                                  {Role::gateway, "gateway"},
                                  {Role::balancer, "balancer"},
                                  {Role::real, "real"}};
constexpr Named<Decap> kDecaps[] = {{Decap::bpf, "bpf"}, {Decap::kernel, "kernel"}};

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
  std::string name(const YAML::Node& n, const std::string& path) const;
  void nodes(const YAML::Node& list, Topology& t) const;
  void check_roles(const YAML::Node& list, const Topology& t) const;
  void links(const YAML::Node& list, Topology& t) const;
  void check_links(const YAML::Node& list, const Topology& t) const;
  void vips(const YAML::Node& list, Topology& t) const;
  BalancerSettings balancer(const YAML::Node& n) const;
  void source_prefixes(const YAML::Node& n, BalancerSettings& b) const;
  BgpSettings bgp(const YAML::Node& n) const;
  void check_bgp(const YAML::Node& list, const Topology& t) const;

  Node node(const YAML::Node& n, const std::string& path) const;
  Route route(const YAML::Node& n, const std::string& path) const;
  Link link(const YAML::Node& n, const std::string& path, const Topology& t) const;
  LinkEnd end(const YAML::Node& n, const std::string& path, const Topology& t) const;
  LabVip vip(const YAML::Node& n, const std::string& path, const Topology& t) const;
  std::vector<Service> services(const YAML::Node& list, const std::string& path) const;
  Service service(const YAML::Node& n, const std::string& path) const;
  LabReal real(const YAML::Node& n, const std::string& path, const Topology& t,
               const IpAddress& vip) const;
  IpPrefix prefix(const YAML::Node& n, const std::string& path, bool host_bits_allowed) const;
  bool boolean(const YAML::Node& n, const std::string& path) const;

  // The enum value a name stands for (parse is the enum's own); "'text' is not <expected>"
  // otherwise.
  template <typename E>
  E named(const YAML::Node& n, const std::string& path, std::optional<E> (*parse)(std::string_view),
          const std::string& expected) const {
    const std::string text = scalar(n, path);
    const std::optional<E> value = parse(text);
    if (!value) fail(n, path, fmt::format("'{}' is not {}", text, expected));
    return *value;
  }

  template <typename F>
  void each(const YAML::Node& list, const std::string& path, F f) const {
    if (!list.IsSequence()) fail(list, path, "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) f(list[i], fmt::format("{}[{}]", path, i));
  }
};

std::string TopologyParser::name(const YAML::Node& n, const std::string& path) const {
  std::string text = scalar(n, path);
  if (!plain_name(text, 8))
    fail(n, path, fmt::format("'{}' is not 1-8 lowercase letters and digits, from a letter", text));
  return text;
}

bool TopologyParser::boolean(const YAML::Node& n, const std::string& path) const {
  const std::string text = scalar(n, path);
  if (text != "true" && text != "false")
    fail(n, path, fmt::format("'{}' is not true or false", text));
  return text == "true";
}

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
  auto m = entries(n, path, {"name", "role", "decap", "standby", "routes"}, {"routes"});
  Node out;
  out.name = name(require(m, n, path, "name"), join(path, "name"));
  out.role = named(require(m, n, path, "role"), join(path, "role"), parse_role,
                   fmt::format("a role ({})", role_names()));
  if (auto it = m.find("decap"); it != m.end()) {
    const std::string at = join(path, "decap");
    scalar(it->second, at);
    if (out.role != Role::real) fail(it->second, at, "only reals decapsulate");
    out.decap = named(it->second, at, parse_decap, decap_names());
  }
  if (auto it = m.find("standby"); it != m.end()) {
    const std::string at = join(path, "standby");
    out.standby = boolean(it->second, at);
    if (out.role != Role::balancer) fail(it->second, at, "only balancers stand by");
  }
  if (auto it = m.find("routes"); it != m.end() && !it->second.IsNull())
    each(it->second, join(path, "routes"),
         [&](const YAML::Node& rn, const std::string& p) { out.routes.push_back(route(rn, p)); });
  return out;
}

void TopologyParser::nodes(const YAML::Node& list, Topology& t) const {
  each(list, "nodes", [&](const YAML::Node& n, const std::string& p) {
    Node node = this->node(n, p);
    if (t.node(node.name)) fail(n, p, fmt::format("a second node named '{}'", node.name));
    t.nodes.push_back(std::move(node));
  });
  check_roles(list, t);
}

void TopologyParser::check_roles(const YAML::Node& list, const Topology& t) const {
  auto count = [&](Role r) {
    return std::count_if(t.nodes.begin(), t.nodes.end(),
                         [r](const Node& n) { return n.role == r; });
  };
  if (count(Role::gateway) != 1)
    fail(list, "nodes",
         fmt::format("a lab has exactly one gateway ({} given)", count(Role::gateway)));
  for (Role r : {Role::client, Role::balancer, Role::real})
    if (count(r) < 1) fail(list, "nodes", fmt::format("a lab needs at least one {}", to_string(r)));
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

void TopologyParser::links(const YAML::Node& list, Topology& t) const {
  std::set<IpAddress> addresses;
  each(list, "links", [&](const YAML::Node& n, const std::string& p) {
    Link l = link(n, p, t);
    for (const LinkEnd* e : {&l.a, &l.b})
      for (const IpPrefix& a : e->addresses)
        if (!addresses.insert(a.address).second)
          fail(n, p, fmt::format("{} is used twice", a.address.to_string()));
    t.links.push_back(std::move(l));
  });
  check_links(list, t);
}

void TopologyParser::check_links(const YAML::Node& list, const Topology& t) const {
  for (const Node& n : t.nodes) {
    auto touching = t.links_of(n.name).size();
    if (touching == 0) fail(list, "links", fmt::format("node '{}' has no link", n.name));
    // XDP_TX answers out of the interface a packet came in on: one link, to the gateway.
    if (n.role == Role::balancer && touching != 1)
      fail(list, "links",
           fmt::format("the balancer '{}' needs exactly one link ({} given)", n.name, touching));
  }
}

// Every address a node has on its links, in file order.
std::vector<IpAddress> addresses_of(const Topology& t, const std::string& node) {
  std::vector<IpAddress> out;
  for (const Link* l : t.links_of(node))
    for (const IpPrefix& p : (l->a.node == node ? l->a : l->b).addresses) out.push_back(p.address);
  return out;
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
         fmt::format("'{}' is a {}, not a real", r.node, to_string(target->role)));
  if (auto it = m.find("weight"); it != m.end())
    r.weight = number(it->second, join(path, "weight"), 0, kMaxWeight);

  const std::vector<IpAddress> own = addresses_of(t, r.node);
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

Service TopologyParser::service(const YAML::Node& n, const std::string& path) const {
  auto m = entries(n, path, {"port", "proto"});
  Service s;
  s.port =
      static_cast<std::uint16_t>(number(require(m, n, path, "port"), join(path, "port"), 1, 65535));
  s.proto = named(require(m, n, path, "proto"), join(path, "proto"), parse_proto,
                  fmt::format("a protocol ({})", proto_names()));
  return s;
}

std::vector<Service> TopologyParser::services(const YAML::Node& list,
                                              const std::string& path) const {
  std::vector<Service> out;
  std::set<std::pair<std::uint16_t, Proto>> seen;
  each(list, path, [&](const YAML::Node& n, const std::string& p) {
    const Service s = service(n, p);
    if (!seen.emplace(s.port, s.proto).second)
      fail(n, p, fmt::format("{}/{} is listed twice", s.port, to_string(s.proto)));
    out.push_back(s);
  });
  if (out.empty()) fail(list, path, "a VIP needs at least one service");
  return out;
}

LabVip TopologyParser::vip(const YAML::Node& n, const std::string& path, const Topology& t) const {
  auto m = entries(n, path, {"address", "services", "reals"});
  LabVip v;
  const YAML::Node address_node = require(m, n, path, "address");
  if (scalar(address_node, join(path, "address")).find('/') == std::string::npos) {
    v.address = address(address_node, join(path, "address"));
  } else {  // a prefix VIP; the rules on its length are the balancer's
    const IpPrefix p = prefix(address_node, join(path, "address"), false);
    v.address = p.address;
    v.prefix_len = p.length;
  }
  v.services = services(require(m, n, path, "services"), join(path, "services"));
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

void TopologyParser::vips(const YAML::Node& list, Topology& t) const {
  each(list, "vips", [&](const YAML::Node& n, const std::string& p) {
    LabVip v = vip(n, p, t);
    if (std::any_of(t.vips.begin(), t.vips.end(),
                    [&](const LabVip& o) { return o.addresses() == v.addresses(); }))
      fail(n, p, fmt::format("VIP {} is listed twice", v.address_text()));
    t.vips.push_back(std::move(v));
  });
}

void TopologyParser::source_prefixes(const YAML::Node& n, BalancerSettings& b) const {
  const std::string path = "balancer.source_prefixes";
  auto m = entries(n, path, {"ipv4", "ipv6"});
  if (auto v4 = m.find("ipv4"); v4 != m.end())
    b.src4_prefix = prefix(v4->second, join(path, "ipv4"), false);
  if (auto v6 = m.find("ipv6"); v6 != m.end())
    b.src6_prefix = prefix(v6->second, join(path, "ipv6"), false);
  if (!b.src4_prefix.address.is_v4()) fail(n, join(path, "ipv4"), "not an IPv4 prefix");
  if (!b.src6_prefix.address.is_v6()) fail(n, join(path, "ipv6"), "not an IPv6 prefix");
}

BgpSettings TopologyParser::bgp(const YAML::Node& n) const {
  auto m = entries(n, "bgp", {"gateway_as", "balancer_as", "bfd", "hold_time"});
  BgpSettings b;
  if (auto it = m.find("gateway_as"); it != m.end())
    b.gateway_as = number(it->second, "bgp.gateway_as", 1, 4294967294U);
  if (auto it = m.find("balancer_as"); it != m.end())
    b.balancer_as = number(it->second, "bgp.balancer_as", 1, 4294967294U);
  if (b.gateway_as == b.balancer_as)
    fail(n, "bgp",
         fmt::format("the gateway and the balancers share AS {}: the sessions are eBGP",
                     b.gateway_as));
  if (auto it = m.find("bfd"); it != m.end()) b.bfd = boolean(it->second, "bgp.bfd");
  if (auto it = m.find("hold_time"); it != m.end()) {
    // BGP's rule: 0 (never) or at least 3 seconds; a lab wants a balancer gone, so not 0.
    b.hold_time = number(it->second, "bgp.hold_time", 3, 65535);
  }
  return b;
}

// Several balancers share the VIPs only through routing; a standby one joins that way too.
void TopologyParser::check_bgp(const YAML::Node& list, const Topology& t) const {
  if (t.bgp) return;
  const auto balancers = t.balancers();
  if (balancers.size() > 1)
    fail(list, "nodes",
         fmt::format("{} balancers need a `bgp` section: the gateway spreads the VIPs over them "
                     "by ECMP of the routes they announce",
                     balancers.size()));
  for (const Node* b : balancers)
    if (b->standby)
      fail(list, "nodes",
           fmt::format("the standby balancer '{}' needs a `bgp` section to join later", b->name));
}

BalancerSettings TopologyParser::balancer(const YAML::Node& n) const {
  auto m = entries(n, "balancer",
                   {"source_prefixes", "xdp_mode", "conn_table_size", "conn_table_insert_rate",
                    "health_checks", "encap", "gue_port"});
  BalancerSettings b;
  if (auto it = m.find("conn_table_size"); it != m.end())
    b.conn_table_size = number(it->second, "balancer.conn_table_size", 1, 1U << 28);
  if (auto it = m.find("conn_table_insert_rate"); it != m.end())
    b.conn_table_insert_rate = number(it->second, "balancer.conn_table_insert_rate", 0, 1U << 30);
  if (auto it = m.find("health_checks"); it != m.end())
    b.health_checks = boolean(it->second, "balancer.health_checks");
  if (auto it = m.find("source_prefixes"); it != m.end()) source_prefixes(it->second, b);
  if (auto it = m.find("xdp_mode"); it != m.end())
    b.xdp_mode = named(it->second, "balancer.xdp_mode", parse_xdp_mode,
                       fmt::format("an XDP mode ({})", xdp_mode_names()));
  if (auto it = m.find("encap"); it != m.end())
    b.encap = named(it->second, "balancer.encap", parse_encap,
                    fmt::format("an encapsulation ({})", encap_names()));
  if (auto it = m.find("gue_port"); it != m.end())
    b.gue_port = static_cast<std::uint16_t>(number(it->second, "balancer.gue_port", 1, 65535));
  return b;
}

Topology TopologyParser::parse(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) throw ConfigError(file(), 0, "the file is empty");
  auto m = entries(root, "", {"name", "nodes", "links", "vips", "balancer", "bgp"});
  Topology t;
  t.name = name(require(m, root, "", "name"), "name");
  nodes(require(m, root, "", "nodes"), t);
  links(require(m, root, "", "links"), t);
  if (auto it = m.find("vips"); it != m.end()) vips(it->second, t);
  if (auto it = m.find("balancer"); it != m.end()) t.balancer = balancer(it->second);
  if (auto it = m.find("bgp"); it != m.end()) t.bgp = bgp(it->second);
  check_bgp(m["nodes"], t);
  return t;
}

}  // namespace

std::string_view to_string(Role role) { return name_of<Role>(kRoles, role); }
std::optional<Role> parse_role(std::string_view name) { return value_of<Role>(kRoles, name); }
std::string role_names() { return name_list<Role>(kRoles); }

std::string_view to_string(Decap decap) { return name_of<Decap>(kDecaps, decap); }
std::optional<Decap> parse_decap(std::string_view name) { return value_of<Decap>(kDecaps, name); }
std::string decap_names() {
  // "bpf or kernel": a choice of two reads better than a list.
  std::string out;
  const std::size_t n = std::size(kDecaps);
  for (std::size_t i = 0; i < n; ++i)
    out += std::string(i == 0 ? "" : i + 1 == n ? " or " : ", ") + std::string(kDecaps[i].name);
  return out;
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

std::vector<const Node*> Topology::balancers() const {
  std::vector<const Node*> out;
  for (const Node& n : nodes)
    if (n.role == Role::balancer) out.push_back(&n);
  return out;
}

std::string LabVip::address_text() const {
  return prefix_len ? addresses().to_string() : address.to_string();
}

IpPrefix LabVip::addresses() const {
  return {address, prefix_len.value_or(static_cast<std::uint8_t>(address.size() * 8))};
}

Topology parse_topology(std::string_view text, const std::string& file) {
  return TopologyParser(file).parse(YamlReader::load(text, file));
}

Topology load_topology(const std::filesystem::path& path) {
  return parse_topology(YamlReader::read_file(path.string()), path.string());
}

}  // namespace dogfish::lab
