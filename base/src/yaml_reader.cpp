#include "dogfish/base/yaml_reader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "dogfish/base/errors.hpp"

namespace dogfish {

void YamlReader::fail(const YAML::Node& at, const std::string& path,
                      const std::string& reason) const {
  std::size_t line = 0;
  if (at.IsDefined() && !at.Mark().is_null()) line = static_cast<std::size_t>(at.Mark().line) + 1;
  throw ConfigError(file_, line, path.empty() ? reason : fmt::format("{}: {}", path, reason));
}

YAML::Node YamlReader::load(std::string_view text, const std::string& file) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own guard (its stack stays bounded) says only "bad file".
    throw ConfigError(file, e.mark.is_null() ? 0 : static_cast<std::size_t>(e.mark.line) + 1,
                      fmt::format("nested deeper than {} levels", e.depth() - 1));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(file, e.mark.is_null() ? 0 : static_cast<std::size_t>(e.mark.line) + 1,
                      e.msg);
  }
}

std::string YamlReader::read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, 0, fmt::format("cannot read: {}", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string YamlReader::join(const std::string& path, const std::string& key) {
  return path.empty() ? key : fmt::format("{}.{}", path, key);
}

std::map<std::string, YAML::Node> YamlReader::entries(
    const YAML::Node& map, const std::string& path, std::initializer_list<std::string_view> known,
    std::initializer_list<std::string_view> may_be_empty) const {
  if (!map.IsMap()) fail(map, path, "expected a mapping");
  std::map<std::string, YAML::Node> out;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) fail(kv.first, path, "a key must be a plain word");
    auto key = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string names;
      for (auto k : known) names += names.empty() ? std::string(k) : fmt::format(", {}", k);
      fail(kv.first, join(path, key), fmt::format("unknown key (expected one of: {})", names));
    }
    if (!out.emplace(key, kv.second).second) fail(kv.first, join(path, key), "key given twice");
    // Any key but an empty list needs its value (named at the key's line).
    if (kv.second.IsNull() &&
        std::find(may_be_empty.begin(), may_be_empty.end(), key) == may_be_empty.end())
      fail(kv.first, join(path, key), "a value is needed");
  }
  return out;
}

YAML::Node YamlReader::require(const std::map<std::string, YAML::Node>& m, const YAML::Node& map,
                               const std::string& path, const std::string& key) const {
  auto it = m.find(key);
  if (it == m.end()) fail(map, path, fmt::format("missing key '{}'", key));
  return it->second;
}

std::string YamlReader::scalar(const YAML::Node& n, const std::string& path) const {
  if (!n.IsScalar()) fail(n, path, n.IsNull() ? "a value is needed" : "expected a single value");
  return n.Scalar();
}

std::uint32_t YamlReader::number(const YAML::Node& n, const std::string& path, std::uint32_t min,
                                 std::uint32_t max) const {
  auto text = scalar(n, path);
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || end != text.data() + text.size() || ec == std::errc::invalid_argument)
    fail(n, path, fmt::format("'{}' is not a whole number", text));
  if (ec == std::errc::result_out_of_range || v < min || v > max)
    fail(n, path, fmt::format("{} is out of range ({}-{})", text, min, max));
  return static_cast<std::uint32_t>(v);
}

bool YamlReader::boolean(const YAML::Node& n, const std::string& path) const {
  auto text = scalar(n, path);
  if (text != "true" && text != "false")
    fail(n, path, fmt::format("'{}' is not true or false", text));
  return text == "true";
}

IpAddress YamlReader::address(const YAML::Node& n, const std::string& path) const {
  auto text = scalar(n, path);
  auto a = IpAddress::parse(text);
  if (!a) fail(n, path, fmt::format("'{}' is not an IP address", text));
  return *a;
}

}  // namespace dogfish
