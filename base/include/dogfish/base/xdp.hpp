// Attaching XDP programs: one mode enum with its names, one attach with mode
// fallback, one query of what an interface runs. The balancer, dogfish-decap and
// the lab all attach through here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/name_table.hpp"

namespace dogfish {

// automatic: native where the driver has it, else generic (skb).
enum class XdpMode { automatic, native, generic };

std::string_view to_string(XdpMode mode);  // "auto", "native", "generic"
std::optional<XdpMode> parse_xdp_mode(std::string_view name);
std::string xdp_mode_names();                 // "native, generic, auto", for errors
std::span<const Named<XdpMode>> xdp_modes();  // the table, for command-line choices

// The interface's index in the calling thread's network namespace; throws OsError
// "interface 'NAME' in this network namespace".
int ifindex_of(const std::string& ifname);

// The XDP program an interface runs.
struct XdpProgram {
  std::uint32_t id = 0;
  XdpMode mode = XdpMode::native;  // native or generic
  std::string name;                // the program's name in the kernel, e.g. "balancer"
};
std::optional<XdpProgram> xdp_program_on(int ifindex);

// The kernel's name of a loaded program ("" when it is gone).
std::string bpf_program_name(std::uint32_t id);
// The ids of the maps a loaded program uses (empty when it is gone).
std::vector<std::uint32_t> bpf_program_map_ids(std::uint32_t id);
// "'balancer' (id 42, native mode)", for messages.
std::string describe(const XdpProgram& program);

// Which program attach_xdp may take the place of.
struct XdpReplace {
  enum class Kind { anything, nothing, program };
  Kind kind = Kind::anything;
  std::uint32_t id = 0;  // Kind::program: this one, and no other

  static XdpReplace anything() { return {}; }
  static XdpReplace nothing() { return {.kind = Kind::nothing}; }
  static XdpReplace program(std::uint32_t id) { return {.kind = Kind::program, .id = id}; }
};

// The interface runs another XDP program than attach_xdp was allowed to replace.
class XdpBusy : public Error {
 public:
  XdpBusy(const std::string& ifname, XdpProgram there);
  const XdpProgram& there() const noexcept { return there_; }

 private:
  XdpProgram there_;
};

// Attaches prog_fd to the interface and returns the mode used. automatic keeps the
// mode of a program already there (so replacing it is one atomic step) and otherwise
// tries native, then generic. A program already there in the other mode than the one
// asked for is detached first: native and generic cannot be swapped in one step.
//
// `replace` says what may be there: anything (replaced as it is), nothing (XdpBusy when a
// program is there; the kernel refuses too if one comes meanwhile), or the program of that id
// (replaced atomically: the kernel swaps only that one, so a program attached meanwhile makes
// this fail instead of being replaced). Throws OsError naming the interface and mode.
XdpMode attach_xdp(const std::string& ifname, int prog_fd, XdpMode mode,
                   XdpReplace replace = XdpReplace::anything());

// Detaches the program in `mode` (native or generic); with expected_prog_fd >= 0 only
// if that program is the one attached (a successor may have replaced it). Returns false
// when another program replaced it or the interface is gone; throws OsError otherwise.
bool detach_xdp(int ifindex, XdpMode mode, int expected_prog_fd = -1);

}  // namespace dogfish
