// Reading a YAML document by hand with exact errors: every failure is a
// ConfigError "file:line: key.path: reason", unknown and repeated keys included.
// Shared by the balancer's configuration and the lab's topologies.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "dogfish/base/address.hpp"

namespace dogfish {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const noexcept { return file_; }

  // The document in `text`; a syntax error becomes a ConfigError at its line.
  static YAML::Node load(std::string_view text, const std::string& file);
  // The whole file; ConfigError "path: cannot read: reason" otherwise.
  static std::string read_file(const std::string& path);

  // Throws ConfigError at the node's line (0 when the node has none).
  [[noreturn]] void fail(const YAML::Node& at, const std::string& path,
                         const std::string& reason) const;

  // "a.b" from "a" and "b"; "b" from "" and "b".
  static std::string join(const std::string& path, const std::string& key);

  // The map's entries by key; unknown and repeated keys are errors, and so is an
  // empty value, except for the keys in `may_be_empty` (lists that may be empty).
  std::map<std::string, YAML::Node> entries(
      const YAML::Node& map, const std::string& path, std::initializer_list<std::string_view> known,
      std::initializer_list<std::string_view> may_be_empty = {}) const;
  YAML::Node require(const std::map<std::string, YAML::Node>& m, const YAML::Node& map,
                     const std::string& path, const std::string& key) const;
  std::string scalar(const YAML::Node& n, const std::string& path) const;
  std::uint32_t number(const YAML::Node& n, const std::string& path, std::uint32_t min,
                       std::uint32_t max) const;
  IpAddress address(const YAML::Node& n, const std::string& path) const;
  // `true` or `false`, nothing else (YAML 1.1's yes/no/on/off are too easy to misread).
  bool boolean(const YAML::Node& n, const std::string& path) const;

 private:
  std::string file_;
};

}  // namespace dogfish
