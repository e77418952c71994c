// The Prometheus text exposition format, version 0.0.4: families of samples, each family's
// HELP and TYPE written once before its samples, label values escaped.
//
//   Exposition e;
//   e.family("dogfish_vip_packets_total", MetricType::counter, "Packets to a VIP.")
//       .add({{"vip", "10.100.0.1:80/tcp"}}, 42);
//   std::string body = e.text();
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dogfish {

enum class MetricType { counter, gauge };

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricFamily {
 public:
  MetricFamily& add(Labels labels, double value);
  MetricFamily& add(Labels labels, std::uint64_t value);

 private:
  friend class Exposition;
  MetricFamily(std::string name, MetricType type, std::string help)
      : name_(std::move(name)), type_(type), help_(std::move(help)) {}

  std::string name_;
  MetricType type_;
  std::string help_;
  std::vector<std::string> samples_;  // each a line without the name
};

class Exposition {
 public:
  // A new family; a name given twice, or not a metric name, is a programming error
  // (std::logic_error). The reference lives as long as the Exposition.
  MetricFamily& family(std::string name, MetricType type, std::string help);
  std::string text() const;

 private:
  std::deque<MetricFamily> families_;
};

// A label value as it goes between the quotes: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

// The content type of text().
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace dogfish
