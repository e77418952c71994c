// Names that travel with their enums: one table per enum, read both ways, so no
// call site spells a value's name itself.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dogfish {

template <typename E>
struct Named {
  E value;
  std::string_view name;
};

// The name of `value`; "?" for a value the table does not have.
template <typename E>
constexpr std::string_view name_of(std::span<const Named<E>> table, E value) {
  for (const Named<E>& n : table)
    if (n.value == value) return n.name;
  return "?";
}

template <typename E>
constexpr std::optional<E> value_of(std::span<const Named<E>> table, std::string_view name) {
  for (const Named<E>& n : table)
    if (n.name == name) return n.value;
  return std::nullopt;
}

// Every name, in table order: what a command line offers as choices.
template <typename E>
std::vector<std::string> names(std::span<const Named<E>> table) {
  std::vector<std::string> out;
  for (const Named<E>& n : table) out.emplace_back(n.name);
  return out;
}

// "tcp, udp": what an error message offers instead of a bad name.
template <typename E>
std::string name_list(std::span<const Named<E>> table) {
  std::string out;
  for (const Named<E>& n : table) {
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

}  // namespace dogfish
