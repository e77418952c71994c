#include "dogfish/lab/builder.hpp"

#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "dogfish/base/address.hpp"
#include "dogfish/base/bpffs.hpp"
#include "dogfish/base/skeleton.hpp"
#include "dogfish/base/xdp.hpp"
#include "dogfish/lab/bird.hpp"
#include "dogfish/lab/netlink.hpp"
#include "dogfish/lab/netns.hpp"
#include "dogfish/lab/plan.hpp"
#include "dogfish/lab/probe.hpp"
#include "dogfish/lab/process.hpp"
#include "dogfish/lab/readiness.hpp"
#include "dogfish/lab/state.hpp"
#include "dogfish/lab/teardown.hpp"
#include "dogfish/lab/topology.hpp"
#include "xdp_pass.skel.h"

namespace dogfish::lab {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void attach_pass_xdp(const std::string& netns, const std::string& interface) {
  in_netns(netns, [&] {
    Skeleton<xdp_pass_bpf> skel({xdp_pass_bpf__open, xdp_pass_bpf__load, xdp_pass_bpf__destroy});
    skel.load();
    // The device keeps its own reference: the program stays attached after we exit.
    attach_xdp(interface, bpf_program__fd(skel->progs.lab_xdp_pass), XdpMode::native);
  });
}

fs::path decap_pin_dir(const std::string& netns) {
  return in_netns(netns, [] { return decap_netns_pin_dir(current_netns_inode()); });
}

// Starts `dogfish run` in the balancer's namespace and waits until it answers; `extra` goes to
// it as is.
void start_balancer(LabState& st, const LabBalancer& b, const Binaries& bins,
                    const std::vector<std::string>& extra = {}) {
  // A killed daemon leaves its socket file: it must not pass for a ready one.
  std::error_code ec;
  fs::remove(b.socket, ec);
  std::vector<std::string> argv{
      bins.dogfish.string(), "run",       "--config",        b.config.string(), "--socket",
      b.socket.string(),     "--pin-dir", b.pin_dir.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const ProcessId id =
      spawn_in_netns(st.node_netns.at(b.node), argv, b.log, [&](const ProcessId& id) {
        st.processes.push_back(LabProcess{ProcessRole::balancer, b.node, id, b.log});
        save_state(st);
      });
  // Answered, not only accepted: the daemon listens before it attaches, answers once serving.
  wait_until("the balancer daemon on " + b.node, id, b.log, 20s,
             [&] { return unix_socket_answers(b.socket, R"({"cmd": "vip_list"})"); });
}

// Debian's bird2 (scripts/install-deps.sh); only a BGP lab needs it.
fs::path find_bird() {
  for (const char* p : {"/usr/sbin/bird", "/usr/local/sbin/bird"})
    if (fs::exists(p)) return p;
  throw Error("this topology routes by BGP and BIRD is not installed (apt-get install bird2)");
}

// A node's BIRD files, noted in the record (the directory first) and saved before any is made.
BirdFiles note_bird_files(LabState& st, const std::string& node) {
  const BirdFiles f = bird_files(node);
  const fs::path dir = f.dir.filename();
  note_file(st, dir);
  for (const fs::path& p : {f.config, f.socket, f.pid, f.include, f.log})
    note_file(st, dir / p.filename());
  note_file(st, dir / (f.include.filename().string() + ".tmp"));  // the daemon's, renamed at once
  save_state(st);
  return f;
}

// Starts BIRD in a node's namespace and waits until its control socket accepts.
void start_bird(LabState& st, const std::string& node, const BirdFiles& f) {
  std::error_code ec;
  fs::remove(f.socket, ec);
  st.bird_sockets[node] = f.socket;
  const ProcessId id =
      spawn_in_netns(st.node_netns.at(node),
                     {find_bird().string(), "-f", "-c", f.config.string(), "-s", f.socket.string(),
                      "-P", f.pid.string()},
                     f.log, [&](const ProcessId& id) {
                       st.processes.push_back(LabProcess{ProcessRole::bird, node, id, f.log});
                       save_state(st);
                     });
  wait_until("BIRD on " + node, id, f.log, 10s, [&] { return unix_socket_accepts(f.socket); });
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw Error("cannot write " + path.string());
}

// The running balancer daemon of a node, if any.
std::vector<LabProcess>::iterator daemon_of(LabState& st, const std::string& node) {
  return std::find_if(st.processes.begin(), st.processes.end(), [&](const LabProcess& p) {
    return p.role == ProcessRole::balancer && p.node == node;
  });
}

// Set before any link exists, so every interface inherits them.
void node_sysctls(const std::string& netns, const Node& n, bool several_paths) {
  // IPv6 addresses usable at once: no duplicate address detection in a private lab.
  set_sysctl(netns, "net/ipv6/conf/all/accept_dad", "0");
  set_sysctl(netns, "net/ipv6/conf/default/accept_dad", "0");
  if (n.role == Role::gateway && several_paths) {
    // ECMP over the balancers by the L4 hash, not L3 only, or every flow of one client takes one
    // balancer (lab facts 9).
    set_sysctl(netns, "net/ipv4/fib_multipath_hash_policy", "1");
    set_sysctl(netns, "net/ipv6/fib_multipath_hash_policy", "1");
  }
  if (n.role == Role::gateway) {
    set_sysctl(netns, "net/ipv4/ip_forward", "1");
    set_sysctl(netns, "net/ipv6/conf/all/forwarding", "1");
    // Replies come from the VIP on the reals' side while the VIP routes to the
    // balancer, and outer sources come from a made-up prefix: either fails the
    // reverse-path check (lab facts 3).
    set_sysctl(netns, "net/ipv4/conf/all/rp_filter", "0");
    set_sysctl(netns, "net/ipv4/conf/default/rp_filter", "0");
  }
  if (n.role == Role::real) {
    // Not a router (a namespace starts with the host's ip_forward): a real that forwards
    // sends a packet for a VIP it lost back towards the VIP, where the balancer hands it
    // to another real, and a health probe through it passes.
    set_sysctl(netns, "net/ipv4/ip_forward", "0");
    set_sysctl(netns, "net/ipv6/conf/all/forwarding", "0");
    // The VIP sits on lo: never answer ARP for it, never use it as an ARP sender.
    for (const char* scope : {"all", "default"}) {
      set_sysctl(netns, fmt::format("net/ipv4/conf/{}/arp_ignore", scope), "1");
      set_sysctl(netns, fmt::format("net/ipv4/conf/{}/arp_announce", scope), "2");
    }
    if (n.decap == Decap::kernel) {
      // A kernel tunnel hands the inner packet up on the tunnel device, while the
      // route back to the client leaves by the veth: strict reverse-path fails.
      set_sysctl(netns, "net/ipv4/conf/all/rp_filter", "0");
      set_sysctl(netns, "net/ipv4/conf/default/rp_filter", "0");
    }
  }
}

const Node& client_of(const Topology& t) {
  return *std::find_if(t.nodes.begin(), t.nodes.end(),
                       [](const Node& n) { return n.role == Role::client; });
}

// One `up`, step by step; every step writes down what it is about to make first.
class Builder {
 public:
  Builder(const Topology& t, const Plan& plan, const Binaries& bins, bool kernel_required,
          LabState& st, std::ostream& out)
      : t_(t), plan_(plan), bins_(bins), kernel_required_(kernel_required), st_(st), out_(out) {}

  void run() {
    namespaces();
    links();
    routes_and_vips();
    gateway();
    decap();
    responders();
    routing();
    balancers();
    wait_for_routes();
    wait_for_vips();
  }

 private:
  void step(std::string_view what) {
    check_stop();
    out_ << "  " << what << '\n' << std::flush;
  }

  const std::string& ns(const std::string& node) const { return st_.node_netns.at(node); }

  void namespaces() {
    std::string names;
    for (const Node& n : t_.nodes) names += " " + netns_name(n.name);
    step("namespaces:" + names);
    for (const Node& n : t_.nodes) {
      const std::string name = netns_name(n.name);
      st_.netns.push_back(name);
      st_.node_netns[n.name] = name;
      save_state(st_);
      create_netns(name);
      node_sysctls(name, n, t_.bgp.has_value());
      Netlink(name).set_up("lo");
    }
  }

  void links() {
    for (const PlannedLink& l : plan_.links) {
      step(fmt::format("link: {}:{} ↔ {}:{} (mtu {})", l.a.node, l.a.interface, l.b.node,
                       l.b.interface, l.mtu));
      Netlink a(l.a.netns);
      a.add_veth(l.a.interface, l.b.netns, l.b.interface, l.mtu);
      Netlink b(l.b.netns);
      for (auto [nl, end] : {std::pair{&a, &l.a}, std::pair{&b, &l.b}}) {
        for (const IpPrefix& p : end->addresses) nl->add_address(end->interface, p);
        nl->set_up(end->interface);
      }
    }
  }

  // Where the node takes its VIPs: addresses alone, and prefix VIPs' prefixes.
  std::set<IpPrefix> vips_served_by(const std::string& node) const {
    std::set<IpPrefix> out;
    for (const LabVip& v : t_.vips)
      for (const LabReal& r : v.reals)
        if (r.node == node) out.insert(v.addresses());
    return out;
  }

  void routes_and_vips() {
    step("routes, and the VIPs on the reals' loopback");
    for (const Node& n : t_.nodes) {
      Netlink nl(ns(n.name));
      for (const Route& r : n.routes) nl.add_route(r.to, r.via);
    }
    // A prefix VIP as a local route: every address of it is the real's, in both families (an
    // IPv6 address of a prefix on lo would make only the one address local).
    for (const Node& n : t_.nodes)
      for (const IpPrefix& vip : vips_served_by(n.name))
        if (vip.length == vip.address.size() * 8)
          Netlink(ns(n.name)).add_address("lo", vip);
        else
          Netlink(ns(n.name)).add_local_route("lo", vip);
  }

  void gateway() {
    const std::string& gw_ns = ns(plan_.gateway_node);
    for (const PlannedBalancer& b : plan_.balancers) {
      step(
          fmt::format("gateway: forwarding on, rp_filter off; on {}: TX checksum offload off, "
                      "pass-through XDP",
                      b.gateway_interface));
      // The client's segments leave with their checksum still to be filled in (veth
      // offload); native XDP_TX on the balancer loses that state and every real then
      // drops the packet. Filling it in before the balancer sees it fixes every client
      // (lab facts 2); it also turns TSO off, which a generic-mode balancer needs.
      set_tx_checksum(gw_ns, b.gateway_interface, false);
      attach_pass_xdp(gw_ns, b.gateway_interface);
    }
  }

  void decap() {
    for (const Node& n : t_.nodes)
      if (n.role == Role::real) decap_on(n);
  }

  // Kernel tunnels where asked for and the kernel has them, else dogfish-decap.
  void decap_on(const Node& n) {
    if (n.decap == Decap::kernel && t_.balancer.encap == Encap::gue) {
      if (kernel_required_)
        throw Error(
            "DOGFISH_LAB_DECAP=kernel, but the topology sends GUE and the lab makes kernel "
            "tunnels for IP in IP only (no FOU): unset DOGFISH_LAB_DECAP");
      out_ << fmt::format(
          "  decap on {}: the lab's kernel tunnels take IP in IP, not GUE; using dogfish-decap "
          "(BPF) instead\n",
          n.name);
      bpf_decap(n);
      return;
    }
    if (n.decap == Decap::kernel) {
      const std::string missing = kernel_decap(n);
      if (missing.empty()) {
        st_.decap[n.name] = Decap::kernel;
        save_state(st_);
        return;
      }
      if (kernel_required_)
        throw Error(
            fmt::format("DOGFISH_LAB_DECAP=kernel, but this kernel has no {} tunnels "
                        "(modprobe ipip ip6_tunnel, or unset DOGFISH_LAB_DECAP)",
                        missing));
      out_ << fmt::format(
          "  decap on {}: this kernel has no {} tunnels; using dogfish-decap (BPF) instead\n",
          n.name, missing);
    }
    bpf_decap(n);
  }

  // dogfish-decap attach on each of the real's links, for the addresses it has there.
  void bpf_decap(const Node& n) {
    const std::string& node_ns = ns(n.name);
    st_.decap[n.name] = Decap::bpf;
    st_.pin_dirs.push_back(decap_pin_dir(node_ns));
    save_state(st_);
    for (const PlannedEnd* e : plan_.ends_of(n.name)) {
      step(fmt::format("decap on {}:{}: dogfish-decap (XDP)", n.name, e->interface));
      std::vector<std::string> argv{bins_.decap.string(), "attach", "--iface", e->interface};
      for (const IpPrefix& p : e->addresses) {
        argv.push_back("--addr");
        argv.push_back(p.address.to_string());
      }
      // Only from the balancer's outer sources. Any inner destination: a VIP added at run time
      // (the README's tour) needs only the address on lo, and the stack drops the rest.
      for (const IpPrefix& p : {t_.balancer.src4_prefix, t_.balancer.src6_prefix}) {
        argv.push_back("--from");
        argv.push_back(p.to_string());
      }
      argv.push_back("--gue-port");
      argv.push_back(std::to_string(t_.balancer.gue_port));
      const fs::path log = note_file(st_, fmt::format("decap-{}.log", n.name));
      save_state(st_);
      if (const int rc = run_in_netns(node_ns, argv, log); rc != 0)
        throw Error(fmt::format("dogfish-decap attach on {}:{} exited {}:\n{}", n.name,
                                e->interface, rc, log_tail(log, 10)));
    }
  }

  // One kernel tunnel per address the balancer sends this real's packets to, local that
  // address, remote any: ipip for an IPv4 address, ip6tnl in mode any (IPv6 and IPv4
  // inside) for an IPv6 one. Returns "" when made; else the kind this kernel lacks, with
  // nothing left behind.
  std::string kernel_decap(const Node& n) {
    std::set<IpAddress> addresses;
    for (const LabVip& v : t_.vips)
      for (const LabReal& r : v.reals)
        if (r.node == n.name) addresses.insert(r.address);
    Netlink nl(ns(n.name));
    std::vector<std::string> made;
    int v4 = 0, v6 = 0;
    for (const IpAddress& a : addresses) {
      const int k = ++(a.is_v4() ? v4 : v6);  // dfipip, dfipip2, ...
      const std::string name =
          fmt::format("{}{}", a.is_v4() ? "dfipip" : "dfip6tnl", k == 1 ? "" : std::to_string(k));
      if (!(a.is_v4() ? nl.add_ipip(name, a) : nl.add_ip6tnl(name, a))) {
        for (const std::string& m : made) nl.delete_link(m);
        return a.is_v4() ? "ipip" : "ip6tnl";
      }
      made.push_back(name);
    }
    std::string names;
    for (const std::string& m : made) names += (names.empty() ? "" : ", ") + m;
    step(fmt::format("decap on {}: kernel tunnels ({})", n.name, names));
    return "";
  }

  void responders() {
    for (const Node& n : t_.nodes)
      if (n.role == Role::real) responder_on(n);
  }

  // The VIPs' ports this real serves, by protocol.
  std::pair<std::set<std::uint16_t>, std::set<std::uint16_t>> ports_of(const Node& n) const {
    std::set<std::uint16_t> tcp, udp;
    for (const LabVip& v : t_.vips)
      if (std::any_of(v.reals.begin(), v.reals.end(),
                      [&](const LabReal& r) { return r.node == n.name; }))
        for (const Service& s : v.services) (s.proto == Proto::tcp ? tcp : udp).insert(s.port);
    return {tcp, udp};
  }

  void responder_on(const Node& n) {
    const auto [tcp, udp] = ports_of(n);
    if (tcp.empty() && udp.empty()) return;
    std::vector<std::string> argv{bins_.responder.string(), "--name", n.name};
    for (auto [flag, ports] : {std::pair{"--tcp", &tcp}, std::pair{"--udp", &udp}})
      if (!ports->empty()) {
        argv.push_back(flag);
        for (auto p : *ports) argv.push_back(std::to_string(p));
      }
    step(fmt::format("responder on {}", n.name));
    const fs::path log = note_file(st_, fmt::format("responder-{}.log", n.name));
    const ProcessId id = spawn_in_netns(ns(n.name), argv, log, [&](const ProcessId& id) {
      st_.processes.push_back(LabProcess{ProcessRole::responder, n.name, id, log});
      save_state(st_);
    });
    wait_until("the responder on " + n.name, id, log, 10s,
               [&] { return log_contains(log, "ready"); });
  }

  // BIRD on the gateway and on each balancer, each balancer's include empty until its daemon
  // announces.
  void routing() {
    if (!t_.bgp) return;
    const BirdFiles gw = note_bird_files(st_, plan_.gateway_node);
    step(fmt::format("routing: BIRD on {} ({}), BGP{} with each balancer, ECMP", plan_.gateway_node,
                     gw.config.string(), t_.bgp->bfd ? " and BFD" : ""));
    write_file(gw.config, gateway_bird_config(t_, plan_));
    start_bird(st_, plan_.gateway_node, gw);
    for (const PlannedBalancer& b : plan_.balancers) {
      const BirdFiles f = note_bird_files(st_, b.node);
      step(fmt::format("routing: BIRD on {} ({})", b.node, f.config.string()));
      write_file(f.include, "# The balancer's daemon writes its VIPs here once it runs.\n");
      write_file(f.config, balancer_bird_config(t_, b, f.include));
      start_bird(st_, b.node, f);
    }
  }

  void balancers() {
    st_.pin_dirs.push_back(lab_balancer_pin_root());
    save_state(st_);
    const bool sole = plan_.balancers.size() == 1;
    for (const PlannedBalancer& b : plan_.balancers) {
      // A lab of one balancer keeps the names it always had.
      const std::string suffix = sole ? "" : "-" + b.node;
      LabBalancer lb{.node = b.node,
                     .interface = b.interface,
                     .gateway_interface = b.gateway_interface,
                     .config = note_file(st_, fmt::format("balancer{}.yaml", suffix)),
                     .socket = note_file(st_, fmt::format("dogfish{}.sock", suffix)),
                     .pin_dir = lab_balancer_pin_root() / fmt::format("balancer{}", suffix),
                     .log = note_file(st_, fmt::format("balancer{}.log", suffix)),
                     .standby = b.standby};
      st_.balancers.push_back(lb);
      save_state(st_);
      std::optional<AnnouncePaths> announce;
      if (t_.bgp) {
        const BirdFiles f = bird_files(b.node);
        announce = AnnouncePaths{f.socket.string(), f.include.string()};
      }
      write_file(lb.config, balancer_config(t_, b, announce));
      if (b.standby) {
        step(fmt::format("balancer {}: standby (dogfish-lab start-balancer {} starts it)", b.node,
                         b.node));
        continue;
      }
      step(fmt::format("balancer: dogfish run in {} on {} ({}), socket {}", ns(b.node), b.interface,
                       lb.config.string(), lb.socket.string()));
      start_balancer(st_, lb, bins_);
    }
  }

  // With BGP: every balancer's sessions up, and the gateway has learned the VIPs from each
  // balancer that runs: the lab starts with every path in the ECMP group.
  void wait_for_routes() {
    if (!t_.bgp) return;
    step("waiting for BGP: every session established, every VIP learned from every balancer");
    std::size_t v4 = 0, v6 = 0;
    for (const LabVip& v : t_.vips) ++(v.address.is_v4() ? v4 : v6);
    const fs::path gw = st_.bird_sockets.at(plan_.gateway_node);
    const auto deadline = Clock::now() + 30s;
    std::string missing;
    while (!(missing = routes_missing(gw, v4, v6)).empty()) {
      check_stop();
      if (Clock::now() >= deadline)
        throw Error(fmt::format("BGP not ready after 30 s: {}; BIRD's log on {}:\n{}", missing,
                                plan_.gateway_node,
                                log_tail(bird_files(plan_.gateway_node).log, 15)));
      std::this_thread::sleep_for(100ms);
    }
  }

  // What the gateway does not have yet: "" when every session is up and has its routes.
  std::string routes_missing(const fs::path& gw, std::size_t v4, std::size_t v6) const {
    std::map<std::string, BgpSession> sessions;
    try {
      sessions = bgp_sessions(gw);
    } catch (const Error& e) {
      return e.what();
    }
    for (const PlannedBalancer& b : plan_.balancers)
      for (bool is_v4 : {true, false}) {
        const auto it = sessions.find(session_name(b.node, is_v4));
        if (it == sessions.end()) continue;
        const std::size_t want = b.standby ? 0 : is_v4 ? v4 : v6;
        if (it->second.state != "Established" || it->second.imported != want)
          return fmt::format("session {} is {} with {} of {} routes", it->first, it->second.state,
                             it->second.imported, want);
      }
    return "";
  }

  void wait_for_vips() {
    const Node& client = client_of(t_);
    step(fmt::format("asking every VIP from {}", client.name));
    const auto deadline = Clock::now() + 30s;
    for (const LabVip& v : t_.vips)
      for (const Service& s : v.services) {
        const Endpoint at{v.address, s.port};
        const Answer a = ask_until_answered(client, at, s.proto, deadline);
        out_ << fmt::format("    {} {} answered by {}\n", to_string(s.proto), at.to_string(),
                            a.real);
      }
  }

  Answer ask_until_answered(const Node& client, const Endpoint& at, Proto proto,
                            Clock::time_point deadline) {
    Answer a;
    while (!(a = ask(ns(client.name), at.address, at.port, proto, 1s)).ok) {
      check_stop();
      if (Clock::now() >= deadline)
        throw Error(
            fmt::format("{} {} does not answer from {} after 30 s ({}); the balancer's log:\n{}",
                        to_string(proto), at.to_string(), client.name, a.error,
                        log_tail(st_.balancers.front().log, 15)));
      std::this_thread::sleep_for(100ms);
    }
    return a;
  }

  const Topology& t_;
  const Plan& plan_;
  const Binaries& bins_;
  const bool kernel_required_;  // DOGFISH_LAB_DECAP=kernel: no fallback to BPF
  LabState& st_;
  std::ostream& out_;
};

void print_how_to_try(const Topology& t, const LabState& st, std::ostream& out) {
  const Node& client = client_of(t);
  out << "\nEach request crosses the balancer (XDP, encapsulated to a real); each answer goes from "
         "the real\n"
         "straight to the client (DSR). Try:\n";
  for (const LabVip& v : t.vips)
    for (const Service& s : v.services)
      if (s.proto == Proto::tcp)
        out << fmt::format("  dogfish-lab exec {} -- curl -g http://{}/\n", client.name,
                           Endpoint{v.address, s.port}.to_string());
  for (const LabBalancer& b : st.balancers)
    if (!b.standby) out << fmt::format("  dogfish stats --socket {}\n", b.socket.string());
  if (!st.bird_sockets.empty()) out << "  dogfish-lab exec gw -- birdc show route\n";
  out << "  dogfish-lab status\n  dogfish-lab down\n";
}

// $DOGFISH_LAB_DECAP, when set, as every real's decap.
void override_decap(Topology& t, const std::optional<Decap>& decap) {
  if (decap)
    for (Node& n : t.nodes)
      if (n.role == Role::real) n.decap = *decap;
}

// One lab at a time: a recorded one, up or half built, is left alone.
void refuse_recorded_lab(const Topology& t) {
  const auto st = load_state();
  if (!st) return;
  const bool up = st->phase == Phase::up;
  throw AlreadyUp(up ? fmt::format("lab '{}' is already up (dogfish-lab status shows it, "
                                   "dogfish-lab down removes it)",
                                   st->name)
                     : fmt::format("lab '{}' is recorded half built (its up failed or was "
                                   "stopped): run dogfish-lab down first",
                                   st->name),
                  up && st->name == t.name);
}

// Never adopt, and so never later delete, a namespace someone else made.
void refuse_foreign_namespaces(const Topology& t) {
  for (const Node& n : t.nodes)
    if (netns_exists(netns_name(n.name)))
      throw Error(
          fmt::format("network namespace {} already exists and dogfish-lab did not make it "
                      "(ip netns del {} removes it)",
                      netns_name(n.name), netns_name(n.name)));
}

// The record of a lab about to be built, with its own copy of the topology, saved.
LabState new_record(const Topology& t, const fs::path& topology_path) {
  LabState st;
  st.name = t.name;
  st.started =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  st.made_record_dir = !fs::exists(state_dir());
  st.topology = note_file(st, "topology.yaml");
  save_state(st);
  fs::copy_file(topology_path, st.topology, fs::copy_options::overwrite_existing);
  return st;
}

// On any failure, what was made is removed; the record too, unless something stayed.
void build_or_roll_back(Builder&& builder, LabState& st, std::ostream& out) {
  try {
    builder.run();
    st.phase = Phase::up;
    save_state(st);
  } catch (const std::exception& e) {
    out << "dogfish-lab: up failed: " << e.what() << "\n  removing what was made\n" << std::flush;
    const Removed r = remove_lab(st);
    for (const auto& p : r.problems) out << "  could not clean up: " << p << '\n';
    if (r.problems.empty()) remove_record(st);
    throw;
  }
}

}  // namespace

fs::path lab_balancer_pin_root() { return fs::path(kBpffs) / (lab_prefix() + "lab"); }

Binaries find_binaries() {
  const fs::path self = fs::read_symlink("/proc/self/exe").parent_path();
  auto find = [&](const char* name, const char* build_dir) {
    for (const fs::path& p : {self / name, self.parent_path() / build_dir / name})
      if (fs::exists(p)) return p;
    throw Error(fmt::format("cannot find {} beside {} or in {}", name, self.string(),
                            (self.parent_path() / build_dir).string()));
  };
  return Binaries{find("dogfish", "balancer"), find("dogfish-decap", "decap"),
                  find("dogfish-responder", "lab")};
}

void lab_up(const fs::path& topology_path, const Binaries& bins, std::ostream& out) {
  const auto t0 = Clock::now();
  Topology t = load_topology(topology_path);
  const std::optional<Decap> decap = decap_override();
  override_decap(t, decap);
  refuse_recorded_lab(t);
  const Plan plan = make_plan(t);
  refuse_foreign_namespaces(t);
  ensure_bpffs();

  out << fmt::format("dogfish-lab: building lab '{}' from {}\n", t.name, topology_path.string())
      << std::flush;
  LabState st = new_record(t, topology_path);
  build_or_roll_back(Builder(t, plan, bins, decap == Decap::kernel, st, out), st, out);
  out << fmt::format("dogfish-lab: lab '{}' is up ({:.1f} s)\n", t.name, seconds_since(t0));
  print_how_to_try(t, st, out);
}

namespace {

LabState lab_that_is_up() {
  auto st = load_state();
  if (!st || st->phase != Phase::up) throw Error("no lab is up (dogfish-lab up brings one up)");
  return *st;
}

// "balancer" in a lab of one, "balancer lb2" in a lab of several.
std::string balancer_title(const LabState& st, const std::string& node) {
  return st.balancers.size() == 1 ? "balancer" : "balancer " + node;
}

// The balancer named (the first when `name` is empty).
const LabBalancer& named_balancer(const LabState& st, const std::string& name) {
  return st.balancer(name.empty() ? st.balancers.at(0).node : name);
}

// Stops a balancer's recorded daemon and drops it from the record; its pid if it still ran.
std::optional<int> stop_recorded_balancer(LabState& st, const std::string& node, StopHow how) {
  const auto it = daemon_of(st, node);
  if (it == st.processes.end()) return std::nullopt;
  const LabProcess old = *it;
  // SIGTERM: the daemon withdraws its VIPs (a BGP lab) and waits its stop_delay first.
  const bool ran = how == StopHow::kill ? kill_process(old.id) : stop_process(old.id, 30s);
  st.processes.erase(it);
  save_state(st);
  return ran ? std::optional<int>(old.id.pid) : std::nullopt;
}

}  // namespace

void lab_stop_balancer(const std::string& name, StopHow how, std::ostream& out) {
  LabState st = lab_that_is_up();
  const LabBalancer& b = named_balancer(st, name);
  const auto t0 = Clock::now();
  const std::optional<int> pid = stop_recorded_balancer(st, b.node, how);
  if (!pid) {
    out << fmt::format("dogfish-lab: the {} daemon does not run\n", balancer_title(st, b.node));
    return;
  }
  out << fmt::format(
      "dogfish-lab: {} {}: pid {} is gone; its program stays attached and serving ({:.2f} s); "
      "dogfish-lab start-balancer starts a new one\n",
      balancer_title(st, b.node), how == StopHow::kill ? "killed (SIGKILL)" : "stopped (SIGTERM)",
      *pid, seconds_since(t0));
}

void lab_start_balancer(const std::string& name, const Binaries& bins,
                        const std::vector<std::string>& extra, std::ostream& out) {
  LabState st = lab_that_is_up();
  const LabBalancer& b = named_balancer(st, name);
  const auto it = daemon_of(st, b.node);
  if (it != st.processes.end() && is_running(it->id))
    throw Error(fmt::format("the {} daemon runs already (dogfish-lab stop-balancer stops it)",
                            balancer_title(st, b.node)));
  stop_recorded_balancer(st, b.node, StopHow::kill);  // a dead one's record
  const auto t0 = Clock::now();
  start_balancer(st, b, bins, extra);
  out << fmt::format(
      "dogfish-lab: {} started: pid {} adopted the attached program and its maps, if any ({:.2f} "
      "s)\n",
      balancer_title(st, b.node), st.processes.back().id.pid, seconds_since(t0));
}

void lab_restart_balancer(const std::string& name, const Binaries& bins, std::ostream& out) {
  LabState st = lab_that_is_up();
  const LabBalancer& b = named_balancer(st, name);
  if (daemon_of(st, b.node) == st.processes.end())
    throw Error(fmt::format("the {} does not run (dogfish-lab start-balancer {} starts it)",
                            balancer_title(st, b.node), b.node));
  const auto t0 = Clock::now();
  const std::optional<int> old = stop_recorded_balancer(st, b.node, StopHow::kill);
  start_balancer(st, b, bins);
  out << fmt::format(
      "dogfish-lab: {} restarted: pid {} killed, pid {} adopted the attached program and its "
      "maps ({:.2f} s)\n",
      balancer_title(st, b.node), old.value_or(0), st.processes.back().id.pid, seconds_since(t0));
}

}  // namespace dogfish::lab
