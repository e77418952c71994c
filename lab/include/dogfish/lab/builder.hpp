// `dogfish-lab up` and `down`: from a topology to a working DSR service in
// namespaces on this host, and back to nothing.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/lab/state.hpp"

namespace dogfish::lab {

// The programs the lab starts, found beside dogfish-lab (installed together) or
// in the build tree's layout (build/lab, build/balancer, build/decap).
struct Binaries {
  std::filesystem::path dogfish;
  std::filesystem::path decap;
  std::filesystem::path responder;
};
Binaries find_binaries();

// The balancer daemons' pins, named like the lab's namespaces (down removes the root): each
// daemon's --pin-dir is a directory under it ("balancer", or "balancer-NODE" with several).
std::filesystem::path lab_balancer_pin_root();

// Builds the lab, waits until every VIP answers from the client, and prints what
// it built and how to try it. On any failure (or a stop request, readiness.hpp) it
// removes everything it made and throws. Throws AlreadyUp when a lab is recorded.
void lab_up(const std::filesystem::path& topology, const Binaries& binaries, std::ostream& out);

struct AlreadyUp : Error {
  AlreadyUp(const std::string& what, bool same) : Error(what), same_lab(same) {}
  bool same_lab;  // the lab asked for is the one that is up: nothing to do
};

// Kills a balancer's daemon (`name`, or the first) with SIGKILL, as a crash or an upgrade would
// (its pins keep the program attached and the maps filled), and starts a new one, which adopts
// them.
void lab_restart_balancer(const std::string& name, const Binaries& binaries, std::ostream& out);

// Stops a balancer's daemon (`name`, or the first): SIGTERM, as an operator would (it withdraws
// its VIPs in a BGP lab, waits its stop_delay, and leaves the data plane serving), or SIGKILL
// (as a crash). Either way the program stays attached, the maps pinned.
enum class StopHow { term, kill };
void lab_stop_balancer(const std::string& name, StopHow how, std::ostream& out);

// Starts the daemon of a balancer (`name`, or the first) that does not run: a standby one, or
// one stopped, whose attached program and maps it adopts. `extra` goes to `dogfish run` as is
// (--bpf-object FILE, --replace-foreign).
void lab_start_balancer(const std::string& name, const Binaries& binaries,
                        const std::vector<std::string>& extra, std::ostream& out);

}  // namespace dogfish::lab
