// dogfish: the balancer daemon (`dogfish run`) and the commands that talk to it
// over its control socket, in the shape of ipvsadm and katran's client.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "dogfish/control_socket.hpp"
#include "dogfish/controller.hpp"
#include "dogfish/daemon.hpp"
#include "dogfish/errors.hpp"
#include "dogfish/log.hpp"

namespace {

using dogfish::Error;
using nlohmann::json;

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

// Client-side checks, so a typo gets its one line even with no daemon running.
void check_endpoint(const std::string& text) {
  if (!dogfish::parse_endpoint(text))
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

void print_reals(const json& answer) {
  fmt::print("{:<28} {:<39} {:<7} {}\n", "VIP", "REAL", "WEIGHT", "ID");
  for (const json& r : answer["reals"])
    fmt::print("{:<28} {:<39} {:<7} {}\n", r["vip"].get<std::string>(),
               r["address"].get<std::string>(), r["weight"].get<unsigned>(),
               r["id"].get<unsigned>());
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
  fmt::print("\n{:<24} {:>14}  {}\n", "REASON", "PACKETS", "MEANING");
  for (const dogfish::ReasonName& r : dogfish::reason_names())
    fmt::print("{:<24} {:>14}  {}\n", r.name, s["reasons"].value(r.name, uint64_t{0}), r.help);
}

// Adds the options every client command takes.
void client_options(CLI::App* cmd, Client& client, bool printing) {
  cmd->add_option("--socket", client.socket, "control socket of the daemon")->capture_default_str();
  if (printing) cmd->add_flag("--json", client.as_json, "print JSON");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dogfish: an XDP layer-4 load balancer (Maglev, IPIP, DSR)", "dogfish"};
  app.require_subcommand(1);
  Client client;
  std::function<void()> action;

  // run
  dogfish::DaemonOptions daemon{.socket_path = dogfish::kDefaultSocket};
  bool verbose = false;
  auto* run = app.add_subcommand("run", "run the balancer: attach, reconcile, serve the socket");
  run->add_option("--config", daemon.config_path, "YAML configuration file")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--socket", daemon.socket_path, "control socket")->capture_default_str();
  run->add_option("--pin-dir", daemon.pin_dir,
                  "bpffs directory for the maps (default /sys/fs/bpf/dogfish/<interface>)");
  run->add_flag("--verbose,-v", verbose, "debug logging, libbpf's too");
  int run_result = 0;
  run->callback([&] {
    dogfish::set_log_verbose(verbose);
    run_result = dogfish::run_daemon(daemon);
  });

  // vip add|del|list
  std::string vip, real, proto = "tcp";
  std::vector<std::string> flags;
  uint32_t weight = 1;
  auto proto_option = [&](CLI::App* cmd) {
    cmd->add_option("--proto", proto, "protocol")
        ->check(CLI::IsMember({"tcp", "udp"}))
        ->capture_default_str();
  };
  auto* vip_cmd = app.add_subcommand("vip", "add, delete or list VIPs")->require_subcommand(1);
  auto* vip_add = vip_cmd->add_subcommand("add", "add a VIP (no reals yet)");
  vip_add->add_option("vip", vip, "ADDRESS:PORT ([IPv6]:PORT)")->required();
  proto_option(vip_add);
  vip_add->add_option("--flags", flags, "no_conn_table, src_hash_only")->delimiter(',');
  client_options(vip_add, client, false);
  vip_add->callback([&] {
    action = [&] {
      check_endpoint(vip);
      client.call({{"cmd", "vip_add"}, {"vip", vip}, {"proto", proto}, {"flags", flags}});
    };
  });
  auto* vip_del = vip_cmd->add_subcommand("del", "delete a VIP and its reals");
  vip_del->add_option("vip", vip, "ADDRESS:PORT ([IPv6]:PORT)")->required();
  proto_option(vip_del);
  client_options(vip_del, client, false);
  vip_del->callback([&] {
    action = [&] {
      check_endpoint(vip);
      client.call({{"cmd", "vip_del"}, {"vip", vip}, {"proto", proto}});
    };
  });
  auto* vip_list = vip_cmd->add_subcommand("list", "list VIPs with their reals");
  client_options(vip_list, client, true);
  vip_list->callback([&] {
    action = [&] {
      json a = client.call({{"cmd", "vip_list"}});
      client.as_json ? fmt::print("{}\n", a["vips"].dump()) : print_vips(a);
    };
  });

  // real add|edit|del|list
  auto* real_cmd =
      app.add_subcommand("real", "add, reweight, delete or list reals")->require_subcommand(1);
  auto real_change = [&](const char* name, const char* help, bool with_weight) {
    auto* cmd = real_cmd->add_subcommand(name, help);
    cmd->add_option("vip", vip, "ADDRESS:PORT of the VIP")->required();
    cmd->add_option("real", real, "the real's address")->required();
    proto_option(cmd);
    if (with_weight)
      cmd->add_option("--weight", weight, "share of new flows; 0 drains")
          ->check(CLI::Range(0, 65535))
          ->capture_default_str();
    client_options(cmd, client, false);
    cmd->callback([&, name = std::string("real_") + name, with_weight] {
      action = [&, name, with_weight] {
        check_endpoint(vip);
        check_address(real);
        json request{{"cmd", name}, {"vip", vip}, {"proto", proto}, {"real", real}};
        if (with_weight) request["weight"] = weight;
        client.call(request);
      };
    });
    return cmd;
  };
  real_change("add", "add a real to a VIP", true);
  real_change("edit", "change a real's weight (0 drains it)", true)
      ->get_option("--weight")
      ->required();
  real_change("del", "delete a real from a VIP (its flows move)", false);
  auto* real_list = real_cmd->add_subcommand("list", "list reals, of one VIP or all");
  real_list->add_option("vip", vip, "ADDRESS:PORT of the VIP");
  proto_option(real_list);
  client_options(real_list, client, true);
  real_list->callback([&] {
    action = [&] {
      json request{{"cmd", "real_list"}};
      if (!vip.empty()) {
        check_endpoint(vip);
        request["vip"] = vip;
        request["proto"] = proto;
      }
      json a = client.call(request);
      client.as_json ? fmt::print("{}\n", a["reals"].dump()) : print_reals(a);
    };
  });

  // stats, reload
  double watch = 0;
  auto* stats =
      app.add_subcommand("stats", "counters: per VIP, per real, connection table, reasons");
  client_options(stats, client, true);
  stats->add_option("--watch", watch, "print again every SECONDS")->check(CLI::PositiveNumber);
  stats->callback([&] {
    action = [&] {
      for (;;) {
        json s = client.call({{"cmd", "stats"}});
        if (client.as_json) {
          fmt::print("{}\n", s.dump());
        } else {
          if (watch > 0) {
            std::time_t now = std::time(nullptr);
            char stamp[32];
            std::strftime(stamp, sizeof(stamp), "%F %T", std::localtime(&now));
            fmt::print("--- {}\n", stamp);
          }
          print_stats(s);
        }
        std::fflush(stdout);
        if (watch <= 0) break;
        std::this_thread::sleep_for(std::chrono::duration<double>(watch));
      }
    };
  });
  auto* reload = app.add_subcommand("reload", "re-read the configuration file (as SIGHUP)");
  client_options(reload, client, false);
  reload->callback([&] {
    action = [&] {
      json a = client.call({{"cmd", "reload"}});
      fmt::print("reloaded: {} VIPs added, {} removed, {} changed, {} rings written\n",
                 a["vips_added"].get<int>(), a["vips_removed"].get<int>(),
                 a["vips_changed"].get<int>(), a["rings_written"].get<int>());
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (run->parsed()) return run_result;
  try {
    if (action) action();
  } catch (const std::exception& e) {
    fmt::print(stderr, "dogfish: {}\n", e.what());
    return 1;
  }
  return 0;
}
