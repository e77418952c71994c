#include "dogfish/exposition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dogfish {
namespace {

bool is_metric_name(std::string_view name) {
  const auto first = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  const auto rest = [&](char c) { return first(c) || (c >= '0' && c <= '9'); };
  return !name.empty() && first(name[0]) && std::all_of(name.begin() + 1, name.end(), rest);
}

// Backslash and newline escaped, and double quotes when `quotes` (label values; HELP text
// keeps them: the format's rule).
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '\n' || (quotes && c == '"')) out += '\\';
    out += c == '\n' ? 'n' : c;
  }
  return out;
}

std::string label_set(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (!is_metric_name(name) || name.find(':') != std::string::npos)
      throw std::logic_error(fmt::format("'{}' is not a label name", name));
    out += fmt::format("{}{}=\"{}\"", out.size() > 1 ? "," : "", name, escape_label_value(value));
  }
  return out + "}";
}

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

std::string escape_label_value(std::string_view value) { return escape(value, true); }

MetricFamily& MetricFamily::add(Labels labels, double value) {
  samples_.push_back(fmt::format("{} {}", label_set(labels), number(value)));
  return *this;
}

MetricFamily& MetricFamily::add(Labels labels, std::uint64_t value) {
  samples_.push_back(fmt::format("{} {}", label_set(labels), value));
  return *this;
}

MetricFamily& Exposition::family(std::string name, MetricType type, std::string help) {
  if (!is_metric_name(name)) throw std::logic_error(fmt::format("'{}' is not a metric name", name));
  for (const MetricFamily& f : families_)
    if (f.name_ == name) throw std::logic_error(fmt::format("metric family {} given twice", name));
  families_.push_back(MetricFamily(std::move(name), type, std::move(help)));
  return families_.back();
}

std::string Exposition::text() const {
  std::string out;
  for (const MetricFamily& f : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name_, escape(f.help_, false), f.name_,
                       f.type_ == MetricType::counter ? "counter" : "gauge");
    for (const std::string& s : f.samples_) out += f.name_ + s + '\n';
  }
  return out;
}

}  // namespace dogfish
