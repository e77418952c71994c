// The lab's long-running processes (responders, the balancer daemon): started
// inside a node's network namespace with the host's mounts kept (DESIGN.md, lab
// facts 5: pins made under `ip netns exec` vanish), known afterwards by pid and
// start time so that a reused pid is never signalled.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace dogfish::lab {

struct ProcessId {
  int pid = 0;
  std::uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a reused pid apart
};

// Starts argv[0] (a path) in the namespace, detached from our session, with
// stdin from /dev/null and stdout and stderr appended to `log`. The process runs only
// after `record` returned (it saves the pid in the lab's record): a process of the lab
// is never running unrecorded, also when we are killed at any moment.
ProcessId spawn_in_netns(const std::string& netns, const std::vector<std::string>& argv,
                         const std::filesystem::path& log,
                         const std::function<void(const ProcessId&)>& record);

// Runs argv to completion in the namespace; its exit status (128 + signal when killed).
// Output goes to `log` when given, else to ours. It is killed if we die.
int run_in_netns(const std::string& netns, const std::vector<std::string>& argv,
                 const std::filesystem::path& log = {});

// Start time of a live pid; 0 when there is no such process.
std::uint64_t process_start_time(int pid);
bool is_running(const ProcessId& id);

// SIGTERM, then SIGKILL once `grace` has passed; true when it was running.
bool stop_process(const ProcessId& id, std::chrono::milliseconds grace);
// stop_process for several at once: SIGTERM to each, then each gets `grace` together; how many
// were running.
std::size_t stop_processes(const std::vector<ProcessId>& ids, std::chrono::milliseconds grace);
// SIGKILL at once, as a crash would; waits until it is gone. True when it was running.
bool kill_process(const ProcessId& id);

}  // namespace dogfish::lab
