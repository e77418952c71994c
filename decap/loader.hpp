// dogfish-decap's work: load decap.bpf.o or tc_decap.bpf.o, attach it to an
// interface of the current network namespace, pin its maps so later runs find
// them, and read them back. Errors are dogfish::Error (OsError with errno and the
// step that failed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dogfish/base/abi.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/name_table.hpp"
#include "dogfish/base/xdp.hpp"

namespace dogfish::decap {

// Where the program hooks in: XDP, or tc's clsact ingress for interfaces without XDP.
enum class Mode { kXdp, kTc };
std::string_view to_string(Mode mode);  // "xdp", "tc"
std::optional<Mode> parse_mode(std::string_view name);
std::span<const Named<Mode>> modes();

// What `attach` is asked for: a plain struct, filled by designated initialisers.
struct AttachConfig {
  std::string iface;
  Mode mode = Mode::kXdp;
  XdpMode xdp_mode = XdpMode::automatic;         // automatic: a re-attach keeps what it had
  std::vector<std::string> addrs;                // outer destinations to strip for
  bool accept_any = false;                       // strip for every outer destination
  std::vector<std::string> sources;              // outer source prefixes to strip from
  bool any_source = false;                       // strip whatever the outer source
  std::vector<std::string> inner_dsts;           // when given, the only inner destinations stripped
  std::uint16_t gue_port = DF_DEFAULT_GUE_PORT;  // UDP port of GUE packets to strip; 0: none
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
  std::vector<std::string> sources;
  bool any_source = false;
  std::vector<std::string> inner_dsts;  // empty: any inner destination
  std::uint16_t gue_port = 0;           // 0: GUE is not stripped
};

// An address as the BPF map keys it; throws Error naming `option` and `text` if it is not one.
df_decap_addr parse_addr(const std::string& text, const char* option = "--addr");
std::string format_addr(const df_decap_addr& a);
// A prefix as the source allow-list keys it; throws Error naming `text` if it is not one.
df_decap_prefix parse_prefix(const std::string& text);
std::string format_prefix(const df_decap_prefix& p);

// Where this namespace's interface keeps its pins (bpffs.hpp has the layout).
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

}  // namespace dogfish::decap
