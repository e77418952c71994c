#include "dogfish/base/proto.hpp"

#include "dogfish/base/name_table.hpp"

namespace dogfish {
namespace {

constexpr Named<Proto> kProtos[] = {{Proto::tcp, "tcp"}, {Proto::udp, "udp"}};

}  // namespace

std::string_view to_string(Proto proto) { return name_of<Proto>(kProtos, proto); }
std::optional<Proto> parse_proto(std::string_view name) { return value_of<Proto>(kProtos, name); }
std::string proto_names() { return name_list<Proto>(kProtos); }

std::span<const Named<Proto>> protos() { return kProtos; }

}  // namespace dogfish
