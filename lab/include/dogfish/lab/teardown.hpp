// Taking a lab down from its record: after a finished `up`, a failed or interrupted
// one, and after the lab's processes died.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "dogfish/lab/state.hpp"

namespace dogfish::lab {

struct Removed {
  std::size_t processes = 0, namespaces = 0, pins = 0;
  std::vector<std::string> problems;  // what could not be removed; the rest still was
};

// Stops the recorded processes (the balancers first), deletes the recorded namespaces and
// removes the recorded pins. Goes on past a problem and lists it.
Removed remove_lab(const LabState& state);

// Removes everything the recorded lab made and its record; false when there was none.
// Throws Error (and keeps the record, so down can run again) when something stayed.
bool lab_down(std::ostream& out);

}  // namespace dogfish::lab
