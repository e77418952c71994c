// `dogfish-lab up` and `down`: from a topology to a working DSR service in
// namespaces on this host, and back to nothing.
#pragma once

#include <filesystem>
#include <ostream>

#include "dogfish/base/errors.hpp"

namespace dogfish::lab {

// The programs the lab starts, found beside dogfish-lab (installed together) or
// in the build tree's layout (build/lab, build/balancer, build/decap).
struct Binaries {
  std::filesystem::path dogfish;
  std::filesystem::path decap;
  std::filesystem::path responder;
};
Binaries find_binaries();

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

}  // namespace dogfish::lab
