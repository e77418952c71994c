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

// The balancer daemon's pins, named like the lab's namespaces (down removes the root): the
// daemon's --pin-dir is the root's "balancer".
std::filesystem::path lab_balancer_pin_root();
std::filesystem::path lab_balancer_pin_dir();

// Builds the lab, waits until every VIP answers from the client, and prints what
// it built and how to try it. On any failure (or a stop request, readiness.hpp) it
// removes everything it made and throws. Throws AlreadyUp when a lab is recorded.
void lab_up(const std::filesystem::path& topology, const Binaries& binaries, std::ostream& out);

struct AlreadyUp : Error {
  AlreadyUp(const std::string& what, bool same) : Error(what), same_lab(same) {}
  bool same_lab;  // the lab asked for is the one that is up: nothing to do
};

// Kills the balancer daemon with SIGKILL, as a crash or an upgrade would (its pins
// keep the program attached and the maps filled), and starts a new one, which adopts them.
void lab_restart_balancer(const Binaries& binaries, std::ostream& out);

// Stops the balancer daemon: SIGTERM (it stops and leaves the data plane serving) or SIGKILL
// (as a crash). Either way the program stays attached, the maps pinned.
enum class StopHow { term, kill };
void lab_stop_balancer(StopHow how, std::ostream& out);
// Starts a balancer daemon where none runs; it adopts the attached program's maps. `extra` goes
// to `dogfish run` as is (--bpf-object FILE, --replace-foreign).
void lab_start_balancer(const Binaries& binaries, const std::vector<std::string>& extra,
                        std::ostream& out);

// The node the topology names as the balancer.
std::string lab_balancer_node(const LabState& state);

}  // namespace dogfish::lab
