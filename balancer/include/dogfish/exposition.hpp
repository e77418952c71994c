// The Prometheus text exposition format, version 0.0.4, written by prometheus-cpp's core
// (Debian's prometheus-cpp-dev): families of samples, each family's HELP and TYPE once before
// its samples, label values escaped. Only its data model and serializer: its exposer would bring
// an HTTP server and threads into a daemon of one loop (balancer/http_server.hpp serves this).
//
//   Exposition e;
//   e.family("dogfish_vip_packets_total", MetricType::counter, "Packets to a VIP.")
//       .add({{"vip", "10.100.0.1:80/tcp"}}, 42);
//   std::string body = e.text();
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace dogfish {

enum class MetricType { counter, gauge };

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricFamily {
 public:
  // A label name that is not one (or is reserved) is a programming error (std::logic_error).
  MetricFamily& add(Labels labels, double value);
  MetricFamily& add(Labels labels, std::uint64_t value) {
    return add(std::move(labels), double(value));
  }

 private:
  friend class Exposition;
  explicit MetricFamily(prometheus::MetricFamily family) : family_(std::move(family)) {}

  prometheus::MetricFamily family_;
};

class Exposition {
 public:
  // A new family; a name given twice, not a metric name, or help text the serializer would
  // not escape (a backslash or a newline) is a programming error (std::logic_error). The
  // reference lives as long as the Exposition.
  MetricFamily& family(std::string name, MetricType type, std::string help);
  std::string text() const;

 private:
  std::deque<MetricFamily> families_;
};

// The content type of text().
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace dogfish
