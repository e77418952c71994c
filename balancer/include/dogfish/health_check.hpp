// How a real's health is checked: a plain struct with defaults, set per VIP in the
// configuration and overridable per real (config.hpp). The rules on its values are
// validate_config's; the prober (health_prober.hpp) runs it, the monitor
// (health_monitor.hpp) keeps what it found.
//
//   health: { type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 3 }
//   health: { type: http, path: /, status: 200 }
//   health: { type: udp, payload: "ping", expect: "" }   # empty expect: any reply
//   health: { type: tcp, via: real }   # the real's own address, not the VIP through it
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dogfish/base/name_table.hpp"

namespace dogfish {

enum class HealthType : std::uint8_t { none, tcp, http, udp };

std::string_view to_string(HealthType type);
std::optional<HealthType> parse_health_type(std::string_view name);
std::string health_type_names();  // "none, tcp, http, udp", for errors

// Where a probe goes. vip: to the VIP's address, encapsulated to the real as clients'
// packets are (the balancer's tc egress program, by the probe socket's mark), so the
// real's decap, the VIP on its loopback and its service all answer for it. real: to the
// real's own address, which passes with a broken decap or a VIP missing from loopback.
enum class HealthVia : std::uint8_t { vip, real };

std::string_view to_string(HealthVia via);
std::optional<HealthVia> parse_health_via(std::string_view name);
std::string health_via_names();  // "vip, real", for errors

struct HealthCheck {
  HealthType type = HealthType::none;  // none: always up
  HealthVia via = HealthVia::vip;      // where probes go (see HealthVia)
  std::uint16_t port = 0;              // 0: the VIP's port
  std::string path = "/";              // http: the request's path
  std::uint32_t status = 200;          // http: the status a healthy real answers
  std::string payload;                 // udp: the datagram sent
  std::string expect;                  // udp: what the reply starts with; empty: any reply
  std::uint32_t interval_ms = 1000;    // one probe per interval, spread over it
  std::uint32_t timeout_ms = 500;      // a probe unanswered this long failed
  std::uint32_t rise = 2;              // passes in a row that bring a down real up
  std::uint32_t fall = 3;              // failures in a row that take an up real down

  bool operator==(const HealthCheck&) const = default;
};

}  // namespace dogfish
