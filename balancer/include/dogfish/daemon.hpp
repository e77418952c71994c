// `dogfish run`: load the configuration, load the BPF program (adopting the maps a predecessor
// pinned), reconcile, attach (atomically in place of the predecessor's program), tell systemd it
// is ready, serve the control socket; SIGHUP reloads the file. SIGTERM/SIGINT stop the daemon
// alone: the data plane goes on serving (program attached, maps pinned), so a restart or an
// upgrade drops no flow, and so does a crash. `dogfish teardown` takes the data plane down.
#pragma once

#include <string>

namespace dogfish {

// Where the packaged service reads its configuration (dogfish.service).
inline constexpr const char* kDefaultConfig = "/etc/dogfish/dogfish.yaml";

struct DaemonOptions {
  std::string config_path;
  std::string socket_path;
  std::string pin_dir;           // empty: /sys/fs/bpf/dogfish/<interface>
  std::string object_file;       // empty: the BPF object built in
  bool replace_foreign = false;  // replace another XDP program found on the interface
};

// Returns the process exit code: 0 after a clean stop, 2 for a bad configuration, 3 when it
// refused to take over (another XDP program on the interface, or maps pinned by a build of
// another ABI: a person decides), 1 for anything else that stopped it from starting.
int run_daemon(const DaemonOptions& options);

}  // namespace dogfish
