#include "dogfish/lab/state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/name_table.hpp"

namespace dogfish::lab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr Named<ProcessRole> kProcessRoles[] = {{ProcessRole::responder, "responder"},
                                                {ProcessRole::balancer, "balancer"},
                                                {ProcessRole::bird, "bird"}};
constexpr Named<Phase> kPhases[] = {{Phase::building, "building"}, {Phase::up, "up"}};

template <typename E>
void from_name(const json& j, E& value, std::optional<E> (*parse)(std::string_view),
               std::string_view what) {
  const std::string name = j.get<std::string>();
  const std::optional<E> parsed = parse(name);
  if (!parsed) throw Error(fmt::format("'{}' is not a {}", name, what));
  value = *parsed;
}

// A record from before labs had several balancers: one, under the names it had then.
LabBalancer record_of_one_balancer(const json& j, const LabState& s) {
  LabBalancer b{.interface = j.at("balancer_interface"),
                .config = state_dir() / "balancer.yaml",
                .socket = j.at("socket").get<std::string>(),
                .log = state_dir() / "balancer.log"};
  for (const LabProcess& p : s.processes)
    if (p.role == ProcessRole::balancer) b.node = p.node;
  return b;
}

}  // namespace

std::string_view to_string(ProcessRole role) { return name_of<ProcessRole>(kProcessRoles, role); }
std::optional<ProcessRole> parse_process_role(std::string_view name) {
  return value_of<ProcessRole>(kProcessRoles, name);
}
std::string_view to_string(Phase phase) { return name_of<Phase>(kPhases, phase); }
std::optional<Phase> parse_phase(std::string_view name) { return value_of<Phase>(kPhases, name); }

void to_json(json& j, ProcessRole role) { j = to_string(role); }
void from_json(const json& j, ProcessRole& role) {
  from_name(j, role, parse_process_role, "process role");
}
void to_json(json& j, Phase phase) { j = to_string(phase); }
void from_json(const json& j, Phase& phase) { from_name(j, phase, parse_phase, "phase"); }
void to_json(json& j, Decap decap) { j = to_string(decap); }
void from_json(const json& j, Decap& decap) { from_name(j, decap, parse_decap, "decap"); }

fs::path state_dir() {
  const char* dir = std::getenv("DOGFISH_LAB_DIR");
  return dir && *dir ? fs::path(dir) : fs::path("/run/dogfish-lab");
}

fs::path state_file() { return state_dir() / "state.json"; }

std::optional<LabState> load_state() {
  std::ifstream in(state_file());
  if (!in) return std::nullopt;
  try {
    const json j = json::parse(in);
    LabState s;
    s.name = j.at("name");
    s.topology = j.at("topology").get<std::string>();
    s.phase = j.at("phase").get<Phase>();
    s.started = j.at("started");
    s.netns = j.at("netns").get<std::vector<std::string>>();
    for (const auto& p : j.at("pin_dirs")) s.pin_dirs.emplace_back(p.get<std::string>());
    for (const auto& p : j.at("processes"))
      s.processes.push_back(LabProcess{p.at("role").get<ProcessRole>(), p.at("node"),
                                       ProcessId{p.at("pid"), p.at("start_time")},
                                       p.at("log").get<std::string>()});
    s.node_netns = j.at("node_netns").get<std::map<std::string, std::string>>();
    s.decap = j.at("decap").get<std::map<std::string, Decap>>();
    if (j.contains("balancers")) {
      for (const auto& b : j.at("balancers"))
        s.balancers.push_back(LabBalancer{.node = b.at("node"),
                                          .interface = b.at("interface"),
                                          .gateway_interface = b.value("gateway_interface", ""),
                                          .config = b.at("config").get<std::string>(),
                                          .socket = b.at("socket").get<std::string>(),
                                          .pin_dir = b.at("pin_dir").get<std::string>(),
                                          .log = b.at("log").get<std::string>(),
                                          .standby = b.at("standby")});
      for (const auto& [node, socket] : j.at("bird_sockets").items())
        s.bird_sockets[node] = socket.get<std::string>();
    } else {
      s.balancers.push_back(record_of_one_balancer(j, s));
    }
    for (const auto& f : j.value("files", json::array()))
      s.files.emplace_back(f.get<std::string>());
    s.made_record_dir = j.value("made_record_dir", false);
    return s;
  } catch (const std::exception& e) {  // json::exception, or Error for an unknown name
    throw Error(
        fmt::format("{}: unreadable lab record ({}); remove it by hand once the lab is gone",
                    state_file().string(), e.what()));
  }
}

void save_state(const LabState& s) {
  json processes = json::array();
  for (const auto& p : s.processes)
    processes.push_back({{"role", p.role},
                         {"node", p.node},
                         {"pid", p.id.pid},
                         {"start_time", p.id.start_time},
                         {"log", p.log.string()}});
  json pins = json::array();
  for (const auto& p : s.pin_dirs) pins.push_back(p.string());
  json balancers = json::array();
  for (const auto& b : s.balancers)
    balancers.push_back({{"node", b.node},
                         {"interface", b.interface},
                         {"gateway_interface", b.gateway_interface},
                         {"config", b.config.string()},
                         {"socket", b.socket.string()},
                         {"pin_dir", b.pin_dir.string()},
                         {"log", b.log.string()},
                         {"standby", b.standby}});
  json birds = json::object();
  for (const auto& [node, socket] : s.bird_sockets) birds[node] = socket.string();
  json files = json::array();
  for (const auto& f : s.files) files.push_back(f.string());
  const json j = {{"name", s.name},
                  {"topology", s.topology.string()},
                  {"phase", s.phase},
                  {"started", s.started},
                  {"netns", s.netns},
                  {"pin_dirs", pins},
                  {"processes", processes},
                  {"node_netns", s.node_netns},
                  {"decap", s.decap},
                  {"balancers", balancers},
                  {"bird_sockets", birds},
                  {"files", files},
                  {"made_record_dir", s.made_record_dir}};
  fs::create_directories(state_dir());
  const fs::path tmp = state_file().string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << '\n';
    out.flush();
    if (!out) throw Error(fmt::format("cannot write {}", tmp.string()));
  }
  fs::rename(tmp, state_file());
}

const LabBalancer& LabState::balancer(const std::string& node) const {
  for (const LabBalancer& b : balancers)
    if (b.node == node) return b;
  std::string known;
  for (const LabBalancer& b : balancers) known += (known.empty() ? "" : ", ") + b.node;
  throw Error(fmt::format("lab '{}' has no balancer '{}' (it has {})", name, node, known));
}

fs::path note_file(LabState& s, const std::string& name) {
  const fs::path path = state_dir() / name;
  if (std::find(s.files.begin(), s.files.end(), path) == s.files.end()) s.files.push_back(path);
  return path;
}

void remove_record(const LabState& s) {
  std::error_code ec;
  // Last made, first removed: a directory noted before its files goes after them, and stays
  // when something else is in it.
  for (auto f = s.files.rbegin(); f != s.files.rend(); ++f) {
    fs::remove(*f, ec);
    if (ec && ec != std::errc::directory_not_empty)
      throw OsError(ec.value(), "remove " + f->string());
  }
  fs::remove(state_file().string() + ".tmp", ec);
  fs::remove(state_file(), ec);
  if (ec) throw OsError(ec.value(), "remove " + state_file().string());
  if (s.made_record_dir) fs::remove(state_dir(), ec);  // fails, harmlessly, when not empty
}

}  // namespace dogfish::lab
