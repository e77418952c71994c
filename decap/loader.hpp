// dogfish-decap's work: load decap.bpf.o or tc_decap.bpf.o, attach it to an
// interface of the current network namespace, pin its maps so later runs find
// them, and read them back. Errors are thrown as decap::Error with errno and
// the step that failed in the message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "decap_abi.hpp"

namespace dogfish::decap {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Mode { kXdp, kTc };
// kAuto: native where the driver has it, else generic; a re-attach keeps what it had.
enum class XdpMode { kAuto, kNative, kGeneric };

// Throws Error "what: strerror (errno N)"; err may be negative (libbpf's style).
[[noreturn]] void fail(const std::string& what, int err);

// What `attach` is asked for: a plain struct, filled by designated initialisers.
struct AttachConfig {
  std::string iface;
  Mode mode = Mode::kXdp;
  XdpMode xdp_mode = XdpMode::kAuto;
  std::vector<std::string> addrs;  // outer destinations to strip for
  bool accept_any = false;         // strip for every outer destination
};

// What `attach` did, for its one line of output.
struct AttachResult {
  std::string how;        // "xdp (native)", "xdp (generic)" or "tc (clsact ingress)"
  bool replaced = false;  // a previous dogfish-decap program was replaced
};

// One interface's counters, summed over CPUs.
struct IfaceStats {
  std::string iface;
  std::string mode;  // "xdp" or "tc"
  df_decap_stats stats{};
  std::vector<std::string> addrs;
  bool accept_any = false;
};

// An address as the BPF map keys it; throws Error naming `text` if it is not one.
df_decap_addr parse_addr(const std::string& text);
std::string format_addr(const df_decap_addr& a);

// Where this namespace's interface keeps its pins: /sys/fs/bpf/dogfish-decap/<netns inode>/<iface>.
std::filesystem::path pin_dir(const std::string& iface);

AttachResult attach(const AttachConfig& cfg);

// tc mode strips IPv4-in-IPv6 with bpf_skb_adjust_room's DECAP_L3 flag (the family
// changes); kernels before 6.3 refuse it and the packet is dropped (drop_adjust), while
// 4in4 and 6in6 need no flag. Returns the running kernel's release when it is that old,
// "" otherwise.
std::string kernel_without_tc_4in6();

// Returns false when nothing of dogfish-decap's was attached to iface.
bool detach(const std::string& iface);

// Every interface of this namespace with pins, or just `iface` when given.
std::vector<IfaceStats> stats(const std::string& iface = "");

// Route libbpf's messages: warnings always, debug lines only when verbose.
void set_libbpf_verbose(bool verbose);

}  // namespace dogfish::decap
