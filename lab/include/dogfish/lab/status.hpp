// `dogfish-lab status`: the recorded lab as it is now (addresses read from its
// namespaces, processes checked by pid), as JSON (DESIGN.md's contract) or a table.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

namespace dogfish::lab {

// Nothing when no lab is recorded.
std::optional<nlohmann::json> lab_status();
// What `status --json` says when no lab is recorded: {"up": false} and where a lab would be
// (its prefix and record directory), so that tests ask rather than re-derive them.
nlohmann::json no_lab_status();
void print_status(const nlohmann::json& status, std::ostream& out);

}  // namespace dogfish::lab
