// `dogfish run`: load the configuration, load (or adopt) the BPF program,
// reconcile, attach, serve the control socket; SIGHUP reloads the file,
// SIGTERM/SIGINT detach, unpin and remove the socket.
#pragma once

#include <string>

namespace dogfish {

struct DaemonOptions {
  std::string config_path;
  std::string socket_path;
  std::string pin_dir;  // empty: /sys/fs/bpf/dogfish/<interface>
};

// Returns the process exit code: 0 after a clean stop, 2 for a bad
// configuration, 1 for anything else that stopped it from starting.
int run_daemon(const DaemonOptions& options);

}  // namespace dogfish
