// dogfish: the balancer daemon (`dogfish run`) and the commands that talk to it
// over its control socket, in the shape of ipvsadm and katran's client. One
// options struct and one function per subcommand; main only parses and runs.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "dogfish/base/abi_names.hpp"
#include "dogfish/base/balancer_schema.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/proto.hpp"
#include "dogfish/control_socket.hpp"
#include "dogfish/controller.hpp"
#include "dogfish/daemon.hpp"

namespace {

using dogfish::Error;
using nlohmann::json;

// What the parsed subcommand does: its exit status.
using Command = std::function<int()>;

// What the client commands share.
struct Client {
  std::string socket = dogfish::kDefaultSocket;
  bool as_json = false;

  // Sends a request; an {"error"} answer throws it as an Error.
  json call(const json& request) const {
    std::string line = dogfish::control_request(socket, request.dump());
    json answer = json::parse(line, nullptr, false);
    if (answer.is_discarded()) throw Error("the daemon's answer is not JSON");
    if (answer.contains("error")) throw Error(answer["error"].get<std::string>());
    answer.erase("ok");
    return answer;
  }
};

// The options of each subcommand.
struct RunOptions {
  dogfish::DaemonOptions daemon{.socket_path = dogfish::kDefaultSocket};
  bool verbose = false;
};
struct VipOptions {
  Client client;
  std::string vip;
  std::string proto{dogfish::to_string(dogfish::Proto::tcp)};
  std::vector<std::string> flags;
};
struct RealOptions {
  Client client;
  std::string vip, real;
  std::string proto{dogfish::to_string(dogfish::Proto::tcp)};
  std::optional<std::uint32_t> weight;  // add and edit only
};
struct StatsOptions {
  Client client;
  double watch = 0;
};

// Client-side checks, so a typo gets its one line even with no daemon running.
void check_endpoint(const std::string& text) {
  if (!dogfish::Endpoint::parse(text))
    throw Error(fmt::format("'{}' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", text));
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
      fmt::print("  -> {:<39} weight {:<6} id {}\n", r["address"].get<std::string>(),
                 r["weight"].get<unsigned>(), r["id"].get<unsigned>());
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
  fmt::print("{:<28} {:<39} {:<7} {:<4} {}\n", "VIP", "REAL", "WEIGHT", "ID", "HEALTH");
  for (const json& r : answer["reals"])
    fmt::print("{:<28} {:<39} {:<7} {:<4} {}\n", r["vip"].get<std::string>(),
               r["address"].get<std::string>(), r["weight"].get<unsigned>(),
               r["id"].get<unsigned>(), health_text(r.value("health", json())));
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

int run(const RunOptions& o) {
  dogfish::set_log_verbose(o.verbose);
  return dogfish::run_daemon(o.daemon);
}

int vip_add(const VipOptions& o) {
  check_endpoint(o.vip);
  o.client.call({{"cmd", "vip_add"}, {"vip", o.vip}, {"proto", o.proto}, {"flags", o.flags}});
  return 0;
}

int vip_del(const VipOptions& o) {
  check_endpoint(o.vip);
  o.client.call({{"cmd", "vip_del"}, {"vip", o.vip}, {"proto", o.proto}});
  return 0;
}

int vip_list(const Client& client) {
  json a = client.call({{"cmd", "vip_list"}});
  client.as_json ? fmt::print("{}\n", a["vips"].dump()) : print_vips(a);
  return 0;
}

// The ring packets read, to compare balancers built from one configuration.
int vip_ring(const VipOptions& o) {
  check_endpoint(o.vip);
  json a = o.client.call({{"cmd", "ring"}, {"vip", o.vip}, {"proto", o.proto}});
  o.client.as_json ? fmt::print("{}\n", a.dump()) : print_ring(a);
  return 0;
}

// real add, real edit, real del: `cmd` is the request's ("real_add", ...).
int real_change(const std::string& cmd, const RealOptions& o) {
  check_endpoint(o.vip);
  check_address(o.real);
  json request{{"cmd", cmd}, {"vip", o.vip}, {"proto", o.proto}, {"real", o.real}};
  if (o.weight) request["weight"] = *o.weight;
  o.client.call(request);
  return 0;
}

int real_list(const RealOptions& o) {
  json request{{"cmd", "real_list"}};
  if (!o.vip.empty()) {
    check_endpoint(o.vip);
    request["vip"] = o.vip;
    request["proto"] = o.proto;
  }
  json a = o.client.call(request);
  o.client.as_json ? fmt::print("{}\n", a["reals"].dump()) : print_reals(a);
  return 0;
}

int stats(const StatsOptions& o) {
  for (;;) {
    json s = o.client.call({{"cmd", "stats"}});
    if (o.client.as_json) {
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

int reload(const Client& client) {
  json a = client.call({{"cmd", "reload"}});
  fmt::print("reloaded: {} VIPs added, {} removed, {} changed, {} rings written\n",
             a["vips_added"].get<int>(), a["vips_removed"].get<int>(), a["vips_changed"].get<int>(),
             a["rings_written"].get<int>());
  return 0;
}

// The command line: each subcommand's options in an O that the parser owns, and
// what runs on them once the line is parsed.

template <typename O>
struct Registered {
  CLI::App* app;
  O& options;
};

template <typename O>
Registered<O> subcommand(CLI::App& parent, const char* name, const char* help, Command& command,
                         std::function<int(const O&)> body) {
  auto options = std::make_shared<O>();
  CLI::App* app = parent.add_subcommand(name, help);
  app->callback(
      [&command, options, body] { command = [options, body] { return body(*options); }; });
  return {app, *options};
}

void client_options(CLI::App* cmd, Client& client, bool printing) {
  cmd->add_option("--socket", client.socket, "control socket of the daemon")->capture_default_str();
  if (printing) cmd->add_flag("--json", client.as_json, "print JSON");
}

void proto_option(CLI::App* cmd, std::string& proto) {
  cmd->add_option("--proto", proto, "protocol")
      ->check(CLI::IsMember(dogfish::names(dogfish::protos())))
      ->capture_default_str();
}

void add_run(CLI::App& app, Command& command) {
  auto [cmd, o] = subcommand<RunOptions>(
      app, "run", "run the balancer: attach, reconcile, serve the socket", command, run);
  cmd->add_option("--config", o.daemon.config_path, "YAML configuration file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--socket", o.daemon.socket_path, "control socket")->capture_default_str();
  cmd->add_option("--pin-dir", o.daemon.pin_dir,
                  "bpffs directory for the maps (default /sys/fs/bpf/dogfish/<interface>)");
  cmd->add_flag("--verbose,-v", o.verbose, "debug logging, libbpf's too");
}

void add_vip(CLI::App& app, Command& command) {
  auto* vip = app.add_subcommand("vip", "add, delete or list VIPs")->require_subcommand(1);

  auto [add, a] = subcommand<VipOptions>(*vip, "add", "add a VIP (no reals yet)", command, vip_add);
  add->add_option("vip", a.vip, "ADDRESS:PORT ([IPv6]:PORT)")->required();
  proto_option(add, a.proto);
  add->add_option("--flags", a.flags, dogfish::vip_flag_list())->delimiter(',');
  client_options(add, a.client, false);

  auto [del, d] =
      subcommand<VipOptions>(*vip, "del", "delete a VIP and its reals", command, vip_del);
  del->add_option("vip", d.vip, "ADDRESS:PORT ([IPv6]:PORT)")->required();
  proto_option(del, d.proto);
  client_options(del, d.client, false);

  auto [list, l] =
      subcommand<Client>(*vip, "list", "list VIPs with their reals", command, vip_list);
  client_options(list, l, true);

  auto [ring, r] = subcommand<VipOptions>(*vip, "ring", "show a VIP's ring: slots per real, digest",
                                          command, vip_ring);
  ring->add_option("vip", r.vip, "ADDRESS:PORT ([IPv6]:PORT)")->required();
  proto_option(ring, r.proto);
  client_options(ring, r.client, true);
}

void add_real(CLI::App& app, Command& command) {
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
    auto [cmd, o] =
        subcommand<RealOptions>(*real, c.name, c.help, command,
                                [request = std::string("real_") + c.name](const RealOptions& o) {
                                  return real_change(request, o);
                                });
    cmd->add_option("vip", o.vip, "ADDRESS:PORT of the VIP")->required();
    cmd->add_option("real", o.real, "the real's address")->required();
    proto_option(cmd, o.proto);
    if (c.weighted) {
      o.weight = 1;
      auto* weight = cmd->add_option("--weight", *o.weight, "share of new flows; 0 drains")
                         ->check(CLI::Range(0, static_cast<int>(dogfish::kMaxWeight)))
                         ->capture_default_str();
      if (c.weight_required) weight->required();
    }
    client_options(cmd, o.client, false);
  }

  auto [list, l] =
      subcommand<RealOptions>(*real, "list", "list reals, of one VIP or all", command, real_list);
  list->add_option("vip", l.vip, "ADDRESS:PORT of the VIP");
  proto_option(list, l.proto);
  client_options(list, l.client, true);
}

void add_stats(CLI::App& app, Command& command) {
  auto [cmd, o] = subcommand<StatsOptions>(
      app, "stats", "counters: per VIP, per real, connection table, reasons", command, stats);
  client_options(cmd, o.client, true);
  cmd->add_option("--watch", o.watch, "print again every SECONDS")->check(CLI::PositiveNumber);
}

void add_reload(CLI::App& app, Command& command) {
  auto [cmd, o] = subcommand<Client>(app, "reload", "re-read the configuration file (as SIGHUP)",
                                     command, reload);
  client_options(cmd, o, false);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dogfish: an XDP layer-4 load balancer (Maglev, IPIP, DSR)", "dogfish"};
  app.require_subcommand(1);
  Command command;
  add_run(app, command);
  add_vip(app, command);
  add_real(app, command);
  add_stats(app, command);
  add_reload(app, command);
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
