#include "dogfish/base/socket_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace dogfish {

SocketAddress socket_address(const Endpoint& endpoint) {
  SocketAddress out;
  const IpAddress& ip = endpoint.address;
  if (ip.is_v4()) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(endpoint.port);
    std::memcpy(&v4->sin_addr, ip.bytes.data(), 4);
    out.length = sizeof *v4;
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(endpoint.port);
    std::memcpy(&v6->sin6_addr, ip.bytes.data(), 16);
    out.length = sizeof *v6;
  }
  return out;
}

}  // namespace dogfish
