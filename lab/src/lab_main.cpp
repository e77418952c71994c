// dogfish-lab: brings a DSR lab up in network namespaces on this host, shows it,
// runs commands inside it, and takes it down again (DESIGN.md, "dogfish-lab").
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/version.hpp"
#include "dogfish/lab/builder.hpp"
#include "dogfish/lab/netns.hpp"
#include "dogfish/lab/readiness.hpp"
#include "dogfish/lab/state.hpp"
#include "dogfish/lab/status.hpp"
#include "dogfish/lab/teardown.hpp"

namespace fs = std::filesystem;
using namespace dogfish;
using namespace dogfish::lab;

namespace {

fs::path default_topology() {
  for (const fs::path& p :
       {fs::path("topologies/basic.yaml"), fs::path(DOGFISH_SOURCE_DIR) / "topologies/basic.yaml"})
    if (fs::exists(p)) return p;
  throw Error("no topology given and no topologies/basic.yaml here or in " DOGFISH_SOURCE_DIR);
}

int cmd_up(const std::string& topology) {
  struct sigaction sa {};
  sa.sa_handler = [](int) { request_stop(); };
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  try {
    lab_up(topology.empty() ? default_topology() : fs::path(topology), find_binaries(), std::cout);
    return 0;
  } catch (const AlreadyUp& e) {
    std::cerr << "dogfish-lab: " << e.what() << '\n';
    return e.same_lab ? 0 : 1;
  }
}

int cmd_down() {
  if (!lab_down(std::cout)) std::cout << "dogfish-lab: no lab is up; nothing to remove\n";
  return 0;
}

int cmd_status(bool json) {
  const auto s = lab_status();
  if (!s) {
    if (json)
      std::cout << no_lab_status().dump(2) << '\n';
    else
      std::cout << "dogfish-lab: no lab is up\n";
    return 1;
  }
  if (json)
    std::cout << s->dump(2) << '\n';
  else
    print_status(*s, std::cout);
  return 0;
}

// birdc (and birdcl) talk to /run/bird/bird.ctl unless told otherwise; in a node that runs the
// lab's BIRD they are told its socket, so `exec gw -- birdc show route` asks the gateway's.
std::vector<std::string> with_bird_socket(const LabState& st, const std::string& node,
                                          std::vector<std::string> command) {
  const auto socket = st.bird_sockets.find(node);
  const std::string program = fs::path(command[0]).filename();
  if (socket == st.bird_sockets.end() || (program != "birdc" && program != "birdcl") ||
      std::find(command.begin(), command.end(), "-s") != command.end())
    return command;
  command.insert(command.begin() + 1, {"-s", socket->second.string()});
  return command;
}

int cmd_exec(const std::string& node, const std::vector<std::string>& command) {
  const auto st = load_state();
  if (!st) throw Error("no lab is up (dogfish-lab up brings one up)");
  const auto it = st->node_netns.find(node);
  if (it == st->node_netns.end()) {
    std::string known;
    for (const auto& [name, ns] : st->node_netns) known += (known.empty() ? "" : ", ") + name;
    throw Error("lab '" + st->name + "' has no node '" + node + "' (it has " + known + ")");
  }
  // The network namespace only: the host's mounts stay, so bpffs pins and the
  // balancer's socket are seen as they are (DESIGN.md, lab facts 5).
  enter_netns(it->second);
  const std::vector<std::string> args = with_bird_socket(*st, node, command);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::cerr << "dogfish-lab: cannot run '" << command[0] << "' in " << it->second << ": "
            << std::strerror(errno) << '\n';
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dogfish-lab: a client, a gateway, a dogfish balancer and reals in network namespaces, "
      "serving VIPs by direct server return"};
  app.set_version_flag("--version", version_text("dogfish-lab"));
  app.require_subcommand(1);

  std::string topology;
  auto* up =
      app.add_subcommand("up", "build the lab and wait until every VIP answers from the client");
  up->add_option("topology", topology, "topology file (default topologies/basic.yaml)");

  std::string balancer;
  auto* restart =
      app.add_subcommand("restart-balancer",
                         "kill a balancer's daemon (SIGKILL) and start a new one that adopts its "
                         "attached program, maps and connection table");
  restart->add_option("balancer", balancer, "the balancer's node (default: the first)");
  bool kill = false;
  auto* stop = app.add_subcommand(
      "stop-balancer",
      "stop a balancer's daemon (SIGTERM): it withdraws its VIPs where BGP routes them, and its "
      "program stays attached and serving");
  stop->add_option("balancer", balancer, "the balancer's node (default: the first)");
  stop->add_flag("--kill", kill, "SIGKILL instead, as a crash");

  std::vector<std::string> daemon_args;
  auto* start = app.add_subcommand(
      "start-balancer",
      "start a balancer's daemon where none runs (standby or stopped); it adopts the attached "
      "program and its maps");
  start->add_option("balancer", balancer,
                    "the balancer's node (default: the first; named when daemon_args follow)");
  start->add_option("daemon_args", daemon_args,
                    "more arguments for `dogfish run`, after --: lb -- --bpf-object FILE");

  auto* down = app.add_subcommand(
      "down", "stop the lab's processes and remove everything up made (safe to repeat)");

  bool json = false;
  auto* status = app.add_subcommand(
      "status", "nodes, addresses, VIPs and processes of the lab that is up (exit 1 if none)");
  status->add_flag("--json", json, "print JSON");

  std::string node;
  std::vector<std::string> command;
  auto* exec = app.add_subcommand(
      "exec", "run a command in a node's network namespace: exec NODE -- CMD...");
  exec->add_option("node", node, "node name")->required();
  exec->add_option("command", command, "the command and its arguments, after --")->required();

  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    std::cerr << "dogfish-lab: must run as root (namespaces, links, XDP)\n";
    return 1;
  }
  try {
    if (*up) return cmd_up(topology);
    if (*down) return cmd_down();
    if (*restart) {
      lab_restart_balancer(balancer, find_binaries(), std::cout);
      return 0;
    }
    if (*stop) {
      lab_stop_balancer(balancer, kill ? StopHow::kill : StopHow::term, std::cout);
      return 0;
    }
    if (*start) {
      if (balancer.starts_with("-"))
        throw Error(
            fmt::format("'{}' is no balancer: name the balancer before the daemon's "
                        "arguments (start-balancer lb -- {})",
                        balancer, balancer));
      lab_start_balancer(balancer, find_binaries(), daemon_args, std::cout);
      return 0;
    }
    if (*status) return cmd_status(json);
    return cmd_exec(node, command);
  } catch (const std::exception& e) {
    std::cerr << "dogfish-lab: " << e.what() << '\n';
    return 1;
  }
}
