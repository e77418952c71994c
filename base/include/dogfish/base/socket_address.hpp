// An endpoint as the socket calls (bind, connect, sendto) take it.
#pragma once

#include <sys/socket.h>

#include "dogfish/base/address.hpp"

namespace dogfish {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const noexcept { return storage.ss_family; }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

SocketAddress socket_address(const Endpoint& endpoint);

}  // namespace dogfish
