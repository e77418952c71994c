#include "dogfish/exposition.hpp"

#include <fmt/format.h>
#include <prometheus/check_names.h>
#include <prometheus/text_serializer.h>

#include <sstream>
#include <stdexcept>

namespace dogfish {

MetricFamily& MetricFamily::add(Labels labels, double value) {
  prometheus::ClientMetric sample;
  for (auto& [name, label_value] : labels) {
    if (!prometheus::CheckLabelName(name))
      throw std::logic_error(fmt::format("'{}' is not a label name", name));
    sample.label.push_back({std::move(name), std::move(label_value)});
  }
  if (family_.type == prometheus::MetricType::Counter)
    sample.counter.value = value;
  else
    sample.gauge.value = value;
  family_.metric.push_back(std::move(sample));
  return *this;
}

MetricFamily& Exposition::family(std::string name, MetricType type, std::string help) {
  if (!prometheus::CheckMetricName(name))
    throw std::logic_error(fmt::format("'{}' is not a metric name", name));
  // prometheus-cpp 1.0 writes HELP text as it is; the format wants these two escaped.
  if (help.find_first_of("\\\n") != std::string::npos)
    throw std::logic_error(fmt::format("the help of {} has a backslash or a newline", name));
  for (const MetricFamily& f : families_)
    if (f.family_.name == name)
      throw std::logic_error(fmt::format("metric family {} given twice", name));
  families_.push_back(MetricFamily(prometheus::MetricFamily{
      std::move(name),
      std::move(help),
      type == MetricType::counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge,
      {}}));
  return families_.back();
}

std::string Exposition::text() const {
  std::vector<prometheus::MetricFamily> all;
  for (const MetricFamily& f : families_) all.push_back(f.family_);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, all);
  return out.str();
}

}  // namespace dogfish
