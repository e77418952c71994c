// What GET /metrics answers: the controller's `stats` and `real_list` answers (the numbers
// `dogfish stats --json` prints) in the Prometheus text format, names prefixed `dogfish_`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "dogfish/exposition.hpp"

namespace dogfish {

// `stats`: the controller's stats answer; `reals`: its real_list answer (every VIP).
// Keys an answer lacks (no health monitor) leave their families out.
Exposition metrics_exposition(const nlohmann::json& stats, const nlohmann::json& reals);

}  // namespace dogfish
