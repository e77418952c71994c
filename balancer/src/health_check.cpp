#include "dogfish/health_check.hpp"

namespace dogfish {
namespace {

constexpr Named<HealthType> kHealthTypes[] = {{HealthType::none, "none"},
                                              {HealthType::tcp, "tcp"},
                                              {HealthType::http, "http"},
                                              {HealthType::udp, "udp"}};

constexpr Named<HealthVia> kHealthVias[] = {{HealthVia::vip, "vip"}, {HealthVia::real, "real"}};

}  // namespace

std::string_view to_string(HealthType type) { return name_of<HealthType>(kHealthTypes, type); }

std::optional<HealthType> parse_health_type(std::string_view name) {
  return value_of<HealthType>(kHealthTypes, name);
}

std::string health_type_names() { return name_list<HealthType>(kHealthTypes); }

std::string_view to_string(HealthVia via) { return name_of<HealthVia>(kHealthVias, via); }

std::optional<HealthVia> parse_health_via(std::string_view name) {
  return value_of<HealthVia>(kHealthVias, name);
}

std::string health_via_names() { return name_list<HealthVia>(kHealthVias); }

}  // namespace dogfish
