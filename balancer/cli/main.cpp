// dogfish: the balancer daemon (`dogfish run`) and the commands that talk to it
// over its control socket, in the shape of ipvsadm and katran's client. One
// options struct and one function per subcommand; main only parses and runs.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <type_traits>

#include "dogfish/base/abi_names.hpp"
#include "dogfish/base/balancer_schema.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/proto.hpp"
#include "dogfish/base/version.hpp"
#include "dogfish/base/xdp.hpp"
#include "dogfish/config.hpp"
#include "dogfish/control_socket.hpp"
#include "dogfish/controller.hpp"
#include "dogfish/daemon.hpp"
#include "dogfish/flow_query.hpp"
#include "dogfish/teardown.hpp"

namespace {

using dogfish::Error;
using nlohmann::json;

// What the parsed subcommand does: its exit status.
using Command = std::function<int()>;

// The options every command takes, before or after its name (`dogfish --socket S vip list`).
struct Global {
  std::string socket = dogfish::kDefaultSocket;
  bool as_json = false;
};

// What the client commands share: the global options, read once the line is parsed.
struct Client {
  const Global& global;

  bool as_json() const { return global.as_json; }
  // Sends a request; an {"error"} answer throws it as an Error.
  json call(const json& request) const {
    std::string line = dogfish::control_request(global.socket, request.dump());
    json answer = json::parse(line, nullptr, false);
    if (answer.is_discarded()) throw Error("the daemon's answer is not JSON");
    if (answer.contains("error")) throw Error(answer["error"].get<std::string>());
    answer.erase("ok");
    return answer;
  }
  // What a command that changes something prints: its answer with --json, else nothing.
  void print_change(const json& answer) const {
    if (as_json()) fmt::print("{}\n", answer.dump());
  }
};

// The options of each subcommand.
struct RunOptions {
  dogfish::DaemonOptions daemon;
  bool verbose = false;
};
struct VipOptions {
  std::string vip;
  std::optional<std::string> proto;
  std::vector<std::string> flags;
};
struct RealOptions {
  std::string vip, real;
  std::optional<std::string> proto;
  std::optional<std::uint32_t> weight;  // add and edit only
  std::optional<std::string> encap;     // add only
};
struct FlowOptions {
  std::string client, vip;
  std::optional<std::string> proto;
};
struct StatsOptions {
  double watch = 0;
};
struct TeardownOptions {
  std::string config = dogfish::kDefaultConfig;
  std::string interface, pin_dir;
};
struct NoOptions {};

// Client-side checks, so a typo gets its one line even with no daemon running.

// The VIP as the request carries it: "ADDRESS:PORT" and "proto", whichever way it was typed;
// returned parsed.
dogfish::ServiceKey put_vip(json& request, const std::string& vip,
                            const std::optional<std::string>& proto) {
  std::optional<dogfish::Proto> given;
  if (proto) given = dogfish::parse_proto(*proto);
  const dogfish::ServiceKey key = dogfish::parse_service(vip, given);
  request["vip"] = dogfish::vip_endpoint(key);
  request["proto"] = dogfish::to_string(key.proto);
  return key;
}
void check_address(const std::string& text) {
  if (!dogfish::IpAddress::parse(text)) throw Error(fmt::format("'{}' is not an IP address", text));
}

void print_vips(const json& answer) {
  fmt::print("{:<28} {:<4} {:<6} {}\n", "VIP", "ID", "RING", "FLAGS");
  for (const json& v : answer["vips"]) {
    std::string flags;
    for (const json& f : v["flags"]) flags += (flags.empty() ? "" : ",") + f.get<std::string>();
    fmt::print("{:<28} {:<4} {:<6} {}\n", v["vip"].get<std::string>(), v["id"].get<unsigned>(),
               v["ring"].get<unsigned>(), flags.empty() ? "-" : flags);
    for (const json& r : v["reals"])
      fmt::print("  -> {:<39} weight {:<6} id {:<5} {}\n", r["address"].get<std::string>(),
                 r["weight"].get<unsigned>(), r["id"].get<unsigned>(),
                 r["encap"].get<std::string>());
  }
}

void print_ring(const json& a) {
  fmt::print("{}: ring {}, {} slots, digest {}\n", a["vip"].get<std::string>(),
             a["ring"].get<unsigned>(), a["size"].get<unsigned>(), a["digest"].get<std::string>());
  for (const json& r : a["reals"])
    fmt::print("  {:<39} id {:<5} weight {:<6} {} slots\n", r["address"].get<std::string>(),
               r["id"].get<unsigned>(), r["weight"].get<unsigned>(), r["slots"].get<unsigned>());
}

// "up 12s (connected)", "down 3s (connection refused), serving: all down", "unchecked".
std::string health_text(const json& h) {
  if (!h.is_object()) return "-";
  std::string state = h.value("state", "?");
  if (state == "unchecked") return state;
  std::string text = fmt::format("{} {:.0f}s", state, h.value("for_s", 0.0));
  if (h.contains("last")) text += fmt::format(" ({})", h["last"].get<std::string>());
  if (state == "down" && h.value("serving", false)) text += ", serving: all down";
  return text;
}

void print_reals(const json& answer) {
  fmt::print("{:<28} {:<39} {:<7} {:<4} {:<5} {}\n", "VIP", "REAL", "WEIGHT", "ID", "ENCAP",
             "HEALTH");
  for (const json& r : answer["reals"])
    fmt::print("{:<28} {:<39} {:<7} {:<4} {:<5} {}\n", r["vip"].get<std::string>(),
               r["address"].get<std::string>(), r["weight"].get<unsigned>(),
               r["id"].get<unsigned>(), r["encap"].get<std::string>(),
               health_text(r.value("health", json())));
}

void print_stats(const json& s) {
  fmt::print("{:<40} {:>14} {:>16}\n", "VIP", "PACKETS", "BYTES");
  for (const json& v : s["vips"])
    fmt::print("{:<40} {:>14} {:>16}\n", v["vip"].get<std::string>(), v["packets"].get<uint64_t>(),
               v["bytes"].get<uint64_t>());
  fmt::print("\n{:<40} {:>14} {:>16}\n", "REAL (id)", "PACKETS", "BYTES");
  for (const json& r : s["reals"])
    fmt::print("{:<40} {:>14} {:>16}\n",
               fmt::format("{} ({})", r["real"].get<std::string>(), r["id"].get<unsigned>()),
               r["packets"].get<uint64_t>(), r["bytes"].get<uint64_t>());
  fmt::print("\n{:<40} {:>14} {:>16}\n", "VIP -> REAL", "PACKETS", "BYTES");
  for (const json& p : s.value("vip_reals", json::array()))
    fmt::print("{:<40} {:>14} {:>16}\n",
               fmt::format("{} -> {}", p["vip"].get<std::string>(), p["real"].get<std::string>()),
               p["packets"].get<uint64_t>(), p["bytes"].get<uint64_t>());
  const json& c = s["conn_table"];
  fmt::print("\nconnection table: {} hit, {} miss, {} expired, {} hashed\n",
             c["hit"].get<uint64_t>(), c["miss"].get<uint64_t>(), c["expired"].get<uint64_t>(),
             c["hash_decisions"].get<uint64_t>());
  fmt::print(
      "  {} entries, every CPU may fill them all; {} remembered ({} proven by a handshake), "
      "{} replaced\n",
      c["capacity_per_cpu"].get<uint64_t>(), c["inserted"].get<uint64_t>(),
      c["proven"].get<uint64_t>(), c["replaced"].get<uint64_t>());
  fmt::print("flood guard: {} misses not remembered, engaged {} s; at most {} entries/s per CPU\n",
             c["skipped"].get<uint64_t>(), c["guard_engaged_s"].get<uint64_t>(),
             c["insert_rate"].get<uint64_t>());
  if (const json& h = s.value("health", json()); h.is_object())
    fmt::print(
        "health: {} probes ({} passed, {} failed), {} went down, {} came up; {} of {} reals down\n",
        h["probes"].get<uint64_t>(), h["passed"].get<uint64_t>(), h["failed"].get<uint64_t>(),
        h["went_down"].get<uint64_t>(), h["went_up"].get<uint64_t>(),
        h["reals_down"].get<uint64_t>(), h["reals_checked"].get<uint64_t>());
  fmt::print("\n{:<24} {:>14}  {}\n", "REASON", "PACKETS", "MEANING");
  for (const dogfish::ReasonName& r : dogfish::balancer_reasons())
    fmt::print("{:<24} {:>14}  {}\n", r.name, s["reasons"].value(r.name, uint64_t{0}), r.help);
}

// The subcommands, each on its own options.

int run(const Global& g, const RunOptions& o) {
  dogfish::set_log_verbose(o.verbose);
  dogfish::DaemonOptions daemon = o.daemon;
  daemon.socket_path = g.socket;
  return dogfish::run_daemon(daemon);
}

int vip_add(const Client& c, const VipOptions& o) {
  json request{{"cmd", "vip_add"}, {"flags", o.flags}};
  put_vip(request, o.vip, o.proto);
  c.print_change(c.call(request));
  return 0;
}

// `--flags none` clears them: an empty list is no option to CLI11.
int vip_edit(const Client& c, const VipOptions& o) {
  const bool none = o.flags == std::vector<std::string>{"none"};
  json request{{"cmd", "vip_edit"}, {"flags", none ? std::vector<std::string>{} : o.flags}};
  put_vip(request, o.vip, o.proto);
  c.print_change(c.call(request));
  return 0;
}

int vip_del(const Client& c, const VipOptions& o) {
  json request{{"cmd", "vip_del"}};
  put_vip(request, o.vip, o.proto);
  c.print_change(c.call(request));
  return 0;
}

int vip_list(const Client& c, const NoOptions&) {
  json a = c.call({{"cmd", "vip_list"}});
  c.as_json() ? fmt::print("{}\n", a["vips"].dump()) : print_vips(a);
  return 0;
}

// The ring packets read, to compare balancers built from one configuration.
int vip_ring(const Client& c, const VipOptions& o) {
  json request{{"cmd", "ring"}};
  put_vip(request, o.vip, o.proto);
  json a = c.call(request);
  c.as_json() ? fmt::print("{}\n", a.dump()) : print_ring(a);
  return 0;
}

// "10.0.0.2:40000 -> 10.100.0.1:80/tcp: real 10.200.0.11 (id 1), from the connection table".
void print_flow(const json& a) {
  std::string real = a["real"].is_null() ? "no real" : "real " + a["real"].get<std::string>();
  std::string why = "from the connection table";
  if (a["from"] == "ring") {
    why = fmt::format("from ring {} slot {} (hash {:#010x})", a["ring"].get<unsigned>(),
                      a["slot"].get<unsigned>(), a["ring_hash"].get<std::uint32_t>());
    if (a.contains("stale_real_id"))
      why += fmt::format("; the table's entry names real id {}, no longer in the data plane",
                         a["stale_real_id"].get<unsigned>());
    else if (a.value("expired", false))
      why += "; the table's entry idled out";
  }
  fmt::print("{} -> {}: {} (id {}), {}\n", a["client"].get<std::string>(),
             a["vip"].get<std::string>(), real, a["real_id"].get<unsigned>(), why);
}

// Which real a flow goes to now, and why.
int flow(const Client& c, const FlowOptions& o) {
  const dogfish::Endpoint client = dogfish::parse_client(o.client);
  json request{{"cmd", "flow"}, {"client", client.to_string()}};
  dogfish::check_client_family(put_vip(request, o.vip, o.proto), client);
  json a = c.call(request);
  c.as_json() ? fmt::print("{}\n", a.dump()) : print_flow(a);
  return 0;
}

// real add, real edit, real del: `cmd` is the request's ("real_add", ...).
int real_change(const std::string& cmd, const Client& c, const RealOptions& o) {
  check_address(o.real);
  json request{{"cmd", cmd}, {"real", o.real}};
  put_vip(request, o.vip, o.proto);
  if (o.weight) request["weight"] = *o.weight;
  if (o.encap) request["encap"] = *o.encap;
  c.print_change(c.call(request));
  return 0;
}

int real_list(const Client& c, const RealOptions& o) {
  json request{{"cmd", "real_list"}};
  if (!o.vip.empty()) put_vip(request, o.vip, o.proto);
  json a = c.call(request);
  c.as_json() ? fmt::print("{}\n", a["reals"].dump()) : print_reals(a);
  return 0;
}

int stats(const Client& c, const StatsOptions& o) {
  for (;;) {
    json s = c.call({{"cmd", "stats"}});
    if (c.as_json()) {
      fmt::print("{}\n", s.dump());
    } else {
      if (o.watch > 0) {
        std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof(stamp), "%F %T", std::localtime(&now));
        fmt::print("--- {}\n", stamp);
      }
      print_stats(s);
    }
    std::fflush(stdout);
    if (o.watch <= 0) return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(o.watch));
  }
}

int reload(const Client& c, const NoOptions&) {
  json a = c.call({{"cmd", "reload"}});
  if (c.as_json()) {
    fmt::print("{}\n", a.dump());
    return 0;
  }
  fmt::print("reloaded: {} VIPs added, {} removed, {} changed, {} rings written\n",
             a["vips_added"].get<int>(), a["vips_removed"].get<int>(), a["vips_changed"].get<int>(),
             a["rings_written"].get<int>());
  return 0;
}

json program_json(const std::optional<dogfish::XdpProgram>& p) {
  if (!p) return nullptr;
  return {{"id", p->id}, {"name", p->name}, {"mode", dogfish::to_string(p->mode)}};
}

// The configuration, read once: it names the interface, or (with --interface) is optional, and
// one that is missing or does not parse then withdraws no route.
std::optional<dogfish::Config> teardown_config(const TeardownOptions& o) {
  if (!o.interface.empty() && !std::filesystem::exists(o.config)) return std::nullopt;
  try {
    return dogfish::load_config(o.config);
  } catch (const dogfish::ConfigError& e) {
    if (o.interface.empty()) throw;
    fmt::print(stderr, "dogfish: {}: withdrawing no route\n", e.what());
  }
  return std::nullopt;
}

int teardown(const Global& g, const TeardownOptions& o) {
  const std::optional<dogfish::Config> config = teardown_config(o);
  const std::string interface = o.interface.empty() ? config->interface : o.interface;
  // Its routes only when the configuration is this interface's.
  const bool ours = config && config->interface == interface;
  const dogfish::TeardownReport r =
      dogfish::teardown({.interface = interface,
                         .pin_dir = o.pin_dir,
                         .socket_path = g.socket,
                         .announce = ours ? config->announce : std::nullopt});
  if (g.as_json) {
    fmt::print("{}\n",
               json{{"interface", interface},
                    {"interface_found", r.interface_found},
                    {"detached", program_json(r.detached)},
                    {"left", program_json(r.left)},
                    {"probe_encap_detached", r.probe_encap_detached},
                    {"pin_dir", r.pin_dir},
                    {"pins_removed", r.pins_removed.size()},
                    {"routes_withdrawn", r.routes_withdrawn},
                    {"routes_error", r.routes_error.empty() ? json(nullptr) : json(r.routes_error)}}
                   .dump());
    return 0;
  }
  if (r.routes_withdrawn)
    fmt::print("dogfish: withdrew the VIPs' routes (BIRD), then waited for the routers\n");
  else if (!r.routes_error.empty())
    fmt::print("dogfish: the VIPs' routes: {} (the include BIRD reads is empty)\n", r.routes_error);
  if (r.detached)
    fmt::print("dogfish: took the XDP program {} off {}\n", describe(*r.detached), interface);
  else if (r.left)
    fmt::print("dogfish: {} runs the XDP program {}, which is not dogfish's: left as it is\n",
               interface, describe(*r.left));
  else
    fmt::print("dogfish: {} runs no dogfish program{}\n", interface,
               r.interface_found ? "" : " (no such interface here)");
  if (r.probe_encap_detached)
    fmt::print("dogfish: took the health probes' tc program off {}'s egress\n", interface);
  fmt::print("dogfish: removed {} pinned objects from {}\n", r.pins_removed.size(), r.pin_dir);
  return 0;
}

// The command line: each subcommand's options in an O that the parser owns, and
// what runs on them once the line is parsed.

template <typename O>
struct Registered {
  CLI::App* app;
  O& options;
};

// A subcommand whose body takes the global options and its own.
template <typename O, typename Body>
Registered<O> subcommand(CLI::App& parent, const char* name, const char* help, Command& command,
                         const Global& global, Body body) {
  auto options = std::make_shared<O>();
  CLI::App* app = parent.add_subcommand(name, help);
  app->callback([&command, &global, options, body] {
    command = [&global, options, body] {
      if constexpr (std::is_invocable_v<Body, const Client&, const O&>)
        return body(Client{global}, *options);
      else
        return body(global, *options);
    };
  });
  return {app, *options};
}

void proto_option(CLI::App* cmd, std::optional<std::string>& proto) {
  cmd->add_option("--proto", proto, "protocol (default tcp, or as the VIP names it)")
      ->check(CLI::IsMember(dogfish::names(dogfish::protos())));
}

constexpr const char* kVipHelp =
    "ADDRESS:PORT ([IPv6]:PORT; PORT * for every port; ADDRESS/LENGTH for every address of a "
    "prefix), or ADDRESS:PORT/PROTO as listed";

void add_run(CLI::App& app, Command& command, const Global& g) {
  auto [cmd, o] = subcommand<RunOptions>(
      app, "run", "run the balancer: attach, reconcile, serve the socket", command, g, run);
  cmd->add_option("--config", o.daemon.config_path, "YAML configuration file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--pin-dir", o.daemon.pin_dir,
                  "bpffs directory for the maps (default /sys/fs/bpf/dogfish/<interface>)");
  cmd->add_option("--bpf-object", o.daemon.object_file,
                  "load this balancer BPF object instead of the built-in one (same maps and ABI)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--replace-foreign", o.daemon.replace_foreign,
                "replace another XDP program found on the interface (refused otherwise)");
  cmd->add_flag("--verbose,-v", o.verbose, "debug logging, libbpf's too");
}

void add_vip(CLI::App& app, Command& command, const Global& g) {
  auto* vip = app.add_subcommand("vip", "add, edit, delete or list VIPs")->require_subcommand(1);

  auto [add, a] =
      subcommand<VipOptions>(*vip, "add", "add a VIP (no reals yet)", command, g, vip_add);
  add->add_option("vip", a.vip, kVipHelp)->required();
  proto_option(add, a.proto);
  add->add_option("--flags", a.flags, dogfish::vip_flag_list())->delimiter(',');

  auto [edit, e] = subcommand<VipOptions>(*vip, "edit", "replace a VIP's flags (its reals stay)",
                                          command, g, vip_edit);
  edit->add_option("vip", e.vip, kVipHelp)->required();
  proto_option(edit, e.proto);
  edit->add_option("--flags", e.flags, dogfish::vip_flag_list() + "; none clears them")
      ->delimiter(',')
      ->required();

  auto [del, d] =
      subcommand<VipOptions>(*vip, "del", "delete a VIP and its reals", command, g, vip_del);
  del->add_option("vip", d.vip, kVipHelp)->required();
  proto_option(del, d.proto);

  subcommand<NoOptions>(*vip, "list", "list VIPs with their reals", command, g, vip_list);

  auto [ring, r] = subcommand<VipOptions>(*vip, "ring", "show a VIP's ring: slots per real, digest",
                                          command, g, vip_ring);
  ring->add_option("vip", r.vip, kVipHelp)->required();
  proto_option(ring, r.proto);
}

void add_real(CLI::App& app, Command& command, const Global& g) {
  auto* real =
      app.add_subcommand("real", "add, reweight, delete or list reals")->require_subcommand(1);
  struct Change {
    const char* name;
    const char* help;
    bool weighted, weight_required;
  };
  for (const Change& c :
       {Change{"add", "add a real to a VIP", true, false},
        Change{"edit", "change a real's weight (0 drains it)", true, true},
        Change{"del", "delete a real from a VIP (its flows move)", false, false}}) {
    auto [cmd, o] = subcommand<RealOptions>(
        *real, c.name, c.help, command, g,
        [request = std::string("real_") + c.name](const Client& client, const RealOptions& o) {
          return real_change(request, client, o);
        });
    cmd->add_option("vip", o.vip, kVipHelp)->required();
    cmd->add_option("real", o.real, "the real's address")->required();
    proto_option(cmd, o.proto);
    if (c.weighted) {
      o.weight = 1;
      auto* weight = cmd->add_option("--weight", *o.weight, "share of new flows; 0 drains")
                         ->check(CLI::Range(0, static_cast<int>(dogfish::kMaxWeight)))
                         ->capture_default_str();
      if (c.weight_required) weight->required();
    }
    if (c.name == std::string_view("add"))
      cmd->add_option("--encap", o.encap,
                      "ipip or gue; default: the real's in its other VIPs, else the balancer's")
          ->check(CLI::IsMember(dogfish::names(dogfish::encaps())));
  }

  auto [list, l] = subcommand<RealOptions>(*real, "list", "list reals, of one VIP or all", command,
                                           g, real_list);
  list->add_option("vip", l.vip, kVipHelp);
  proto_option(list, l.proto);
}

void add_flow(CLI::App& app, Command& command, const Global& g) {
  auto [cmd, o] = subcommand<FlowOptions>(
      app, "flow",
      "which real a client's flow to a VIP goes to now, and why (connection table or ring slot)",
      command, g, flow);
  cmd->add_option("client", o.client, "the client's ADDRESS:PORT ([IPv6]:PORT)")->required();
  cmd->add_option("vip", o.vip, kVipHelp)->required();
  proto_option(cmd, o.proto);
}

void add_stats(CLI::App& app, Command& command, const Global& g) {
  auto [cmd, o] = subcommand<StatsOptions>(
      app, "stats", "counters: per VIP, per real, connection table, reasons", command, g, stats);
  cmd->add_option("--watch", o.watch, "print again every SECONDS")->check(CLI::PositiveNumber);
}

void add_reload(CLI::App& app, Command& command, const Global& g) {
  subcommand<NoOptions>(app, "reload", "re-read the configuration file (as SIGHUP)", command, g,
                        reload);
}

void add_teardown(CLI::App& app, Command& command, const Global& g) {
  auto [cmd, o] = subcommand<TeardownOptions>(
      app, "teardown",
      "take the stopped balancer's data plane down: its XDP program off the interface, its pins "
      "removed (every flow re-hashes afterwards)",
      command, g, teardown);
  cmd->add_option("--config", o.config,
                  "the configuration that names the interface and, with `announce`, the VIPs' "
                  "routes to withdraw first (with --interface: read if it exists and names it)")
      ->capture_default_str();
  cmd->add_option("--interface", o.interface, "the interface (instead of the configuration's)");
  cmd->add_option("--pin-dir", o.pin_dir,
                  "bpffs directory of the maps (default /sys/fs/bpf/dogfish/<interface>)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dogfish: an XDP layer-4 load balancer (Maglev, IPIP, DSR)", "dogfish"};
  app.set_version_flag("--version", dogfish::version_text("dogfish"));
  app.require_subcommand(1);
  Global global;
  app.add_option("--socket", global.socket, "control socket of the daemon")
      ->envname("DOGFISH_SOCKET")
      ->capture_default_str();
  app.add_flag("--json", global.as_json, "print JSON");
  // Subcommands inherit these: the global options may come after a subcommand's name too, and
  // every subcommand's help names them.
  app.fallthrough();
  app.footer(
      "Global options, before or after the subcommand: --socket PATH (or $DOGFISH_SOCKET), "
      "--json.");
  Command command;
  add_run(app, command, global);
  add_vip(app, command, global);
  add_real(app, command, global);
  add_flow(app, command, global);
  add_stats(app, command, global);
  add_reload(app, command, global);
  add_teardown(app, command, global);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return command();
  } catch (const std::exception& e) {
    fmt::print(stderr, "dogfish: {}\n", e.what());
    return 1;
  }
}
