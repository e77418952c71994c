#include "dogfish/lab/teardown.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include <unistd.h>

#include "dogfish/base/bpffs.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/lab/builder.hpp"
#include "dogfish/lab/netns.hpp"
#include "dogfish/lab/process.hpp"
#include "dogfish/lab/readiness.hpp"

namespace dogfish::lab {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The balancers first, together: on SIGTERM each withdraws its VIPs (a BGP lab) and waits its
// stop delay, leaving its data plane serving for teardown_balancers. Then BIRD, then the rest.
std::size_t stop_processes(const LabState& st) {
  auto rank = [](ProcessRole r) {
    return r == ProcessRole::balancer ? 0 : r == ProcessRole::bird ? 1 : 2;
  };
  std::size_t stopped = 0;
  for (int step = 0; step < 3; ++step) {
    std::vector<ProcessId> ids;
    for (const LabProcess& p : st.processes)
      if (rank(p.role) == step) ids.push_back(p.id);
    stopped += lab::stop_processes(ids, 5s);
  }
  // And whatever else runs in the lab's namespaces: nothing may keep one alive once it is
  // deleted (a `dogfish-lab exec` shell, or what a killed `up` was running).
  for (const std::string& name : st.netns)
    for (int pid : pids_in_netns(name))
      if (pid != getpid()) stopped += kill_process({pid, process_start_time(pid)});
  return stopped;
}

// `dogfish teardown` in each balancer's namespace, as a user takes a stopped balancer down: its
// program off the interface, its pins removed. Only where up wrote its configuration.
void teardown_balancers(const LabState& st, Removed& r) {
  for (const LabBalancer& b : st.balancers) {
    if (!fs::exists(b.config) || !st.node_netns.count(b.node) ||
        !netns_exists(st.node_netns.at(b.node)))
      continue;
    try {
      const int rc =
          run_in_netns(st.node_netns.at(b.node),
                       {find_binaries().dogfish.string(), "teardown", "--config", b.config.string(),
                        "--pin-dir", b.pin_dir.string(), "--socket", b.socket.string()},
                       b.log);
      if (rc != 0)
        r.problems.push_back(
            fmt::format("dogfish teardown on {} exited {}: {}", b.node, rc, log_tail(b.log, 5)));
    } catch (const std::exception& e) {
      r.problems.push_back(fmt::format("dogfish teardown on {}: {}", b.node, e.what()));
    }
  }
}

// In reverse order of making. A namespace goes with the last process in it: processes first.
void delete_namespaces(const LabState& st, Removed& r) {
  for (auto it = st.netns.rbegin(); it != st.netns.rend(); ++it) {
    try {
      r.namespaces += delete_netns(*it);
    } catch (const std::exception& e) {
      r.problems.push_back(e.what());
    }
  }
}

// The recorded directories are the balancer's (under the lab's own name) and dogfish-decap's
// per namespace (bpffs.hpp's paths, taken at up): deleting a namespace detached decap's
// programs with its links, and only the pins keep anything alive.
void remove_pins(const LabState& st, Removed& r) {
  for (const fs::path& d : st.pin_dirs) {
    std::error_code ec;
    const auto n = fs::remove_all(d, ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
      r.problems.push_back(fmt::format("remove {}: {}", d.string(), ec.message()));
    r.pins += n == static_cast<std::uintmax_t>(-1) ? 0 : n;
  }
  // dogfish-decap's root, once no namespace of anyone's has pins under it.
  if (std::any_of(st.decap.begin(), st.decap.end(),
                  [](const auto& d) { return d.second == Decap::bpf; })) {
    std::error_code ec;
    fs::remove(decap_pin_root(), ec);
  }
}

}  // namespace

Removed remove_lab(const LabState& st) {
  Removed r;
  r.processes = stop_processes(st);
  teardown_balancers(st, r);
  delete_namespaces(st, r);
  remove_pins(st, r);
  for (const LabBalancer& b : st.balancers) {
    std::error_code ec;
    fs::remove(b.socket, ec);
  }
  return r;
}

bool lab_down(std::ostream& out) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto st = load_state();
  if (!st) return false;
  const Removed r = remove_lab(*st);
  for (const auto& p : r.problems) out << "dogfish-lab: could not remove: " << p << '\n';
  if (!r.problems.empty())
    throw Error("lab only partly removed; its record is kept, so down can be run again");
  remove_record(*st);
  out << fmt::format(
      "dogfish-lab: lab '{}' is down: {} processes stopped, {} namespaces and {} pinned objects "
      "removed ({:.1f} s)\n",
      st->name, r.processes, r.namespaces, r.pins,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return true;
}

}  // namespace dogfish::lab
