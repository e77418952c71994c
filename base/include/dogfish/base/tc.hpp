// Attaching tc programs: one filter slot (handle and priority) on an interface's clsact
// hook, ingress or egress. The clsact qdisc is made when missing and left in place (other
// tools may hang filters on it). dogfish-decap (ingress) and the balancer's probe
// encapsulation (egress) attach through here.
#pragma once

#include <cstdint>
#include <string>

namespace dogfish {

enum class TcDirection { ingress, egress };

// Where a tc program sits: the caller's own handle and priority on one hook.
struct TcSlot {
  int ifindex = 0;
  TcDirection direction = TcDirection::ingress;
  std::uint32_t handle = 0;
  std::uint32_t priority = 0;
};

// The id of the program in the slot, 0 when there is none (nor a clsact qdisc).
std::uint32_t tc_program_in(const TcSlot& slot);

// Attaches prog_fd in the slot, replacing what it held. `what` names the interface for
// errors; throws OsError.
void attach_tc(const TcSlot& slot, int prog_fd, const std::string& what);

// Removes the slot's program; with expected_prog_fd >= 0 only if that program is the one
// there (a successor may have replaced it). Returns false when there was nothing to remove;
// throws OsError otherwise.
bool detach_tc(const TcSlot& slot, const std::string& what, int expected_prog_fd = -1);

}  // namespace dogfish
