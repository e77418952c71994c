// Asking a VIP from inside a namespace, the way a client would: HTTP over TCP,
// a datagram over UDP. The responder answers with its real's name (DESIGN.md),
// so an answer also says which real served the flow.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "dogfish/base/address.hpp"
#include "dogfish/base/proto.hpp"

namespace dogfish::lab {

struct Answer {
  bool ok = false;
  std::string real;   // the first line of the body or datagram
  std::string error;  // why not, when !ok
};

Answer ask(const std::string& netns, const IpAddress& vip, std::uint16_t port, Proto proto,
           std::chrono::milliseconds timeout);

}  // namespace dogfish::lab
