// What `dogfish-lab up` has made, written down before each thing is made, so that
// `down` can remove all of it: after a finished up, a failed or interrupted one,
// and after the lab's processes died. One lab at a time lives in the state
// directory (/run/dogfish-lab, or $DOGFISH_LAB_DIR).
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dogfish/lab/process.hpp"
#include "dogfish/lab/topology.hpp"

namespace dogfish::lab {

// What a lab's process is there for; the record and status spell it "responder", "balancer",
// "bird" (the routing daemon on the gateway and on each balancer of a BGP lab).
enum class ProcessRole { responder, balancer, bird };
std::string_view to_string(ProcessRole role);
std::optional<ProcessRole> parse_process_role(std::string_view name);

// "building" until every VIP answered, then "up".
enum class Phase { building, up };
std::string_view to_string(Phase phase);
std::optional<Phase> parse_phase(std::string_view name);

// The record and status hold these enums by name (to_string); reading an unknown name
// throws Error naming it.
void to_json(nlohmann::json& j, ProcessRole role);
void from_json(const nlohmann::json& j, ProcessRole& role);
void to_json(nlohmann::json& j, Phase phase);
void from_json(const nlohmann::json& j, Phase& phase);
void to_json(nlohmann::json& j, Decap decap);
void from_json(const nlohmann::json& j, Decap& decap);

struct LabProcess {
  ProcessRole role = ProcessRole::responder;
  std::string node;
  ProcessId id;
  std::filesystem::path log;
};

// A balancer's daemon: what it runs with. Its process, while it runs, is in `processes`.
struct LabBalancer {
  std::string node;
  std::string interface;          // its link to the gateway
  std::string gateway_interface;  // the gateway's end of that link
  std::filesystem::path config, socket, pin_dir, log;
  bool standby = false;  // not started by `up`
};

struct LabState {
  std::string name;
  std::filesystem::path
      topology;  // the copy taken at `up`, so later edits cannot confuse status or down
  Phase phase = Phase::building;
  double started = 0;  // seconds since the epoch
  std::vector<std::string> netns;
  std::vector<std::filesystem::path> pin_dirs;  // bpffs directories to remove
  std::vector<LabProcess> processes;
  std::map<std::string, std::string> node_netns;              // node name → namespace
  std::map<std::string, Decap> decap;                         // real node → how it decapsulates
  std::vector<LabBalancer> balancers;                         // in the topology's order
  std::map<std::string, std::filesystem::path> bird_sockets;  // node → BIRD's control socket
  // What `up` made in the record directory, noted before it was made: `down` removes these
  // and the directory (if `up` made it and nothing else is in it), nothing more.
  std::vector<std::filesystem::path> files;
  bool made_record_dir = false;

  const LabBalancer& balancer(const std::string& node) const;  // throws Error when none
};

std::filesystem::path state_dir();
std::filesystem::path state_file();

// Nothing when no lab is recorded; throws Error when the file is unreadable.
std::optional<LabState> load_state();
// Written to a temporary file and renamed over the old one: never half a record.
void save_state(const LabState& state);
// The path of `name` (a file, or a directory noted before what goes in it) in the record
// directory, noted in the state as the lab's (once): save the state before making it.
std::filesystem::path note_file(LabState& state, const std::string& name);
// The noted files (in reverse order), the record, and the directory when the lab made it and it is
// empty.
void remove_record(const LabState& state);

}  // namespace dogfish::lab
