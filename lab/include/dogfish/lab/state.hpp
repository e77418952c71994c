// What `dogfish-lab up` has made, written down before each thing is made, so that
// `down` can remove all of it: after a finished up, a failed or interrupted one,
// and after the lab's processes died. One lab at a time lives in the state
// directory (/run/dogfish-lab, or $DOGFISH_LAB_DIR).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dogfish/lab/process.hpp"

namespace dogfish::lab {

struct LabProcess {
  std::string role;  // "responder" or "balancer"
  std::string node;
  ProcessId id;
  std::filesystem::path log;
};

struct LabState {
  std::string name;
  std::filesystem::path
      topology;  // the copy taken at `up`, so later edits cannot confuse status or down
  std::string phase = "building";  // "building" until every VIP answered, then "up"
  double started = 0;              // seconds since the epoch
  std::vector<std::string> netns;
  std::vector<std::filesystem::path> pin_dirs;  // bpffs directories to remove
  std::vector<LabProcess> processes;
  std::map<std::string, std::string> node_netns;  // node name → namespace
  std::map<std::string, std::string> decap;       // real node → "bpf" or "kernel"
  std::string balancer_interface;
  std::filesystem::path socket;
};

std::filesystem::path state_dir();
std::filesystem::path state_file();

// Nothing when no lab is recorded; throws Error when the file is unreadable.
std::optional<LabState> load_state();
// Written to a temporary file and renamed over the old one: never half a record.
void save_state(const LabState& state);
void remove_state_dir();

}  // namespace dogfish::lab
