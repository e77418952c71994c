#include "dogfish/health_check.hpp"

namespace dogfish {
namespace {

constexpr Named<HealthType> kHealthTypes[] = {{HealthType::none, "none"},
                                              {HealthType::tcp, "tcp"},
                                              {HealthType::http, "http"},
                                              {HealthType::udp, "udp"}};

}  // namespace

std::string_view to_string(HealthType type) { return name_of<HealthType>(kHealthTypes, type); }

std::optional<HealthType> parse_health_type(std::string_view name) {
  return value_of<HealthType>(kHealthTypes, name);
}

std::string health_type_names() { return name_list<HealthType>(kHealthTypes); }

}  // namespace dogfish
