#include "dogfish/base/encap.hpp"

namespace dogfish {
namespace {

constexpr Named<Encap> kEncaps[] = {{Encap::ipip, "ipip"}, {Encap::gue, "gue"}};

}  // namespace

std::string_view to_string(Encap encap) { return name_of<Encap>(kEncaps, encap); }
std::optional<Encap> parse_encap(std::string_view name) { return value_of<Encap>(kEncaps, name); }
std::string encap_names() { return name_list<Encap>(kEncaps); }

std::span<const Named<Encap>> encaps() { return kEncaps; }

}  // namespace dogfish
