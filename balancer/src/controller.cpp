#include "dogfish/controller.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <vector>

#include "dogfish/base/abi_names.hpp"
#include "dogfish/base/balancer_schema.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/config_validation.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/flow_query.hpp"
#include "dogfish/health_json.hpp"

namespace dogfish {
namespace {

using nlohmann::json;

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

std::string field(const json& request, const char* name) {
  auto it = request.find(name);
  if (it == request.end() || !it->is_string()) throw Error(fmt::format("missing \"{}\"", name));
  return it->get<std::string>();
}

std::optional<Proto> proto_of(const json& request) {
  if (!request.contains("proto")) return std::nullopt;
  std::string p = field(request, "proto");
  if (auto proto = parse_proto(p)) return *proto;
  throw Error(fmt::format("'{}' is not a protocol ({})", p, proto_names()));
}

// "vip": "ADDRESS:PORT" with "proto" (default tcp), or "ADDRESS:PORT/PROTO".
ServiceKey vip_key_of(const json& request) {
  return parse_service(field(request, "vip"), proto_of(request));
}

IpAddress real_of(const json& request) {
  std::string text = field(request, "real");
  auto a = IpAddress::parse(text);
  if (!a) throw Error(fmt::format("'{}' is not an IP address", text));
  return *a;
}

// A weight as the request gives it; its range is validate_config's to check.
std::uint32_t weight_of(const json& request) {
  if (!request.contains("weight")) return 1;
  const json& w = request["weight"];
  bool whole = w.is_number_unsigned() || (w.is_number_integer() && w.get<std::int64_t>() >= 0);
  if (!whole || w.get<std::uint64_t>() > UINT32_MAX)
    throw Error(fmt::format("weight must be an integer in 0..{}", kMaxWeight));
  return w.get<std::uint32_t>();
}

// The encapsulation a request names; none: as another VIP's entry of the real names it, else
// the balancer's (real_encaps).
std::optional<Encap> encap_of(const json& request) {
  if (!request.contains("encap")) return std::nullopt;
  std::string name = field(request, "encap");
  if (auto encap = parse_encap(name)) return *encap;
  throw Error(fmt::format("'{}' is not an encapsulation ({})", name, encap_names()));
}

std::uint32_t flags_of(const json& request) {
  std::uint32_t flags = 0;
  if (!request.contains("flags")) return 0;
  if (!request["flags"].is_array()) throw Error("\"flags\" must be a list");
  for (const json& f : request["flags"]) {
    std::string name = f.is_string() ? f.get<std::string>() : f.dump();
    auto bit = parse_vip_flag(name);
    if (!bit) throw Error(fmt::format("'{}' is not a VIP flag ({})", name, vip_flag_list()));
    flags |= *bit;
  }
  return flags;
}

template <typename C>  // Config or const Config
auto& find_vip(C& config, const ServiceKey& key) {
  for (auto& v : config.vips)
    if (ServiceKey::of(v) == key) return v;
  throw Error(fmt::format("unknown VIP {}", to_string(key)));
}

// The probe slots' reals as the data plane holds them: each address with its encapsulation.
std::map<std::uint32_t, df_real> probe_reals(const std::map<std::uint32_t, IpAddress>& slots,
                                             const Config& config) {
  const std::map<IpAddress, Encap> encaps = real_encaps(config);
  std::map<std::uint32_t, df_real> out;
  for (const auto& [slot, address] : slots) {
    auto it = encaps.find(address);
    out[slot] = to_df_real(address, it != encaps.end() ? it->second : config.encap);
  }
  return out;
}

// Points the probe slots the monitor added or moved (or whose real changed its encapsulation)
// at their reals and frees those it let go.
void write_probe_reals(DataPlane& dp, const std::map<std::uint32_t, df_real>& before,
                       const std::map<std::uint32_t, df_real>& after) {
  for (const auto& [slot, real] : after)
    if (auto it = before.find(slot);
        it == before.end() || std::memcmp(&it->second, &real, sizeof(real)) != 0)
      dp.put_probe_real(slot, real);
  for (const auto& [slot, real] : before)
    if (!after.contains(slot)) dp.put_probe_real(slot, df_real{});
}

json counter_json(const df_counter& c) { return {{"packets", c.packets}, {"bytes", c.bytes}}; }

// A (VIP, real) pair of the applied state, with the ids the data plane counts it by.
struct AppliedPair {
  const ServiceKey& vip;
  const IpAddress& real;
  std::uint32_t vip_id, real_id;
};

std::vector<AppliedPair> applied_pairs(const AppliedState& state) {
  std::vector<AppliedPair> out;
  for (const auto& [key, vip] : state.vips)
    for (const RealConfig& real : vip.reals)
      if (auto id = state.real_ids.find(real.address); id != state.real_ids.end())
        out.push_back({key, real.address, vip.vip_id, id->second});
  return out;
}

}  // namespace

json stats_json(const DataPlaneStats& stats, const AppliedState& state) {
  json vips = json::array();
  for (const auto& [key, vip] : state.vips) {
    df_counter c = vip.vip_id < stats.vips.size() ? stats.vips[vip.vip_id] : df_counter{};
    json v = counter_json(c);
    v["vip"] = to_string(key);
    v["id"] = vip.vip_id;
    vips.push_back(v);
  }
  json reals = json::array();
  for (const auto& [address, id] : state.real_ids) {
    df_counter c = id < stats.reals.size() ? stats.reals[id] : df_counter{};
    json r = counter_json(c);
    r["real"] = address.to_string();
    r["id"] = id;
    reals.push_back(r);
  }
  json vip_reals = json::array();
  for (const AppliedPair& p : applied_pairs(state)) {
    auto c = stats.vip_reals.find({p.vip_id, p.real_id});
    json r = counter_json(c == stats.vip_reals.end() ? df_counter{} : c->second);
    r["vip"] = to_string(p.vip);
    r["real"] = p.real.to_string();
    vip_reals.push_back(r);
  }
  json reasons = json::object();
  for (const ReasonName& r : balancer_reasons()) reasons[r.name] = stats.global.reason[r.id];
  return {{"vips", vips},
          {"reals", reals},
          {"vip_reals", vip_reals},
          {"conn_table",
           {{"hit", stats.global.conn_hit},
            {"miss", stats.global.conn_miss},
            {"expired", stats.global.conn_expired},
            {"hash_decisions", stats.global.hash_decisions},
            {"proven", stats.global.conn_proven},
            {"inserted", stats.global.conn_inserted},
            {"skipped", stats.global.conn_skipped},
            {"replaced", stats.global.conn_replaced},
            {"guard_engaged_s", stats.global.guard_engaged}}},
          {"reasons", reasons}};
}

DataPlaneStats read_stats(const DataPlane& data_plane, const AppliedState& state) {
  DataPlaneStats stats = data_plane.stats();
  for (const AppliedPair& p : applied_pairs(state))
    stats.vip_reals[{p.vip_id, p.real_id}] = data_plane.vip_real_stats(p.vip_id, p.real_id);
  return stats;
}

Controller::Controller(Reconciler& reconciler, DataPlane& data_plane, DfConfigFor df_config_for,
                       Loader loader, HealthMonitor* health)
    : reconciler_(reconciler),
      dp_(data_plane),
      df_config_for_(std::move(df_config_for)),
      loader_(std::move(loader)),
      health_(health) {}

ReconcileReport Controller::apply(const Config& config) {
  const auto started = std::chrono::steady_clock::now();
  struct Timed {
    std::chrono::steady_clock::time_point started;
    std::chrono::nanoseconds& total;
    ~Timed() { total += std::chrono::steady_clock::now() - started; }
  } timed{started, counters_.applying};
  ++counters_.applies;
  ++counters_.apply_failures;  // taken back below when it worked
  try {
    validate_config(config);
  } catch (const InvalidConfig& e) {
    throw Error(e.in_words());
  }
  reconciler_.check_limits(config);
  df_config df = df_config_for_(config);
  HealthMonitor health = health_ ? *health_ : HealthMonitor{};  // kept only when the apply worked
  health.sync(config, HealthClock::now());
  ReconcileReport report = reconciler_.apply(health.effective(config), df);
  if (health_) {
    // After the apply: no probe starts before this returns, and a failed one changes nothing.
    write_probe_reals(dp_, probe_reals(health_->probe_slots(), config_),
                      probe_reals(health.probe_slots(), config));
    *health_ = std::move(health);
  }
  config_ = config;
  applied_ = true;
  --counters_.apply_failures;
  return report;
}

ReconcileReport Controller::health_changed() {
  if (!applied_ || !health_) return {};
  return reconciler_.apply(health_->effective(config_), *reconciler_.state().config);
}

ReconcileReport Controller::reload() {
  ++counters_.reloads;
  ++counters_.reload_failures;  // taken back below when it worked
  Config next = loader_();
  if (applied_ && next.interface != config_.interface)
    throw Error(fmt::format("interface changed ({} -> {}): restart the daemon to move it",
                            config_.interface, next.interface));
  if (applied_ && (next.conn_table_size != config_.conn_table_size ||
                   next.max_vips != config_.max_vips || next.max_reals != config_.max_reals))
    throw Error(
        "conn_table_size, max_vips and max_reals are fixed at start: restart to change them");
  if (applied_ && next.announce != config_.announce)
    throw Error("announce is read at start: restart to change it");
  if (applied_ && next.metrics_listen != config_.metrics_listen) {
    log_warn("metrics_listen is read at start: /metrics stays where it is until a restart");
    next.metrics_listen = config_.metrics_listen;
  }
  ReconcileReport report = apply(next);
  --counters_.reload_failures;
  return report;
}

json Controller::vip_list() const {
  const std::map<IpAddress, Encap> encaps = real_encaps(config_);
  json vips = json::array();
  for (const VipConfig& v : config_.vips) {
    const AppliedVip& applied = reconciler_.state().vips.at(ServiceKey::of(v));
    json reals = json::array();
    for (const RealConfig& r : v.reals)
      reals.push_back({{"address", r.address.to_string()},
                       {"weight", r.weight},
                       {"id", reconciler_.real_id(r.address).value_or(0)},
                       {"encap", to_string(encaps.at(r.address))}});
    vips.push_back({{"vip", vip_name(v)},
                    {"address", v.address.to_string()},
                    {"prefix_len", v.prefix_len ? json(*v.prefix_len) : json(nullptr)},
                    {"port", v.port},
                    {"proto", to_string(v.proto)},
                    {"flags", vip_flag_names(v.flags)},
                    {"id", applied.vip_id},
                    {"ring", applied.ring},
                    {"health", vip_health_json(health_, v)},
                    {"reals", reals}});
  }
  return {{"ok", true}, {"vips", vips}};
}

json Controller::real_list(const json& request) const {
  const std::map<IpAddress, Encap> encaps = real_encaps(config_);
  std::optional<ServiceKey> only;
  if (request.contains("vip")) {
    only = vip_key_of(request);
    find_vip(config_, *only);  // unknown VIP is an error
  }
  json reals = json::array();
  for (const VipConfig& v : config_.vips) {
    if (only && ServiceKey::of(v) != *only) continue;
    for (const RealConfig& r : v.reals)
      reals.push_back({{"vip", vip_name(v)},
                       {"address", r.address.to_string()},
                       {"weight", r.weight},
                       {"id", reconciler_.real_id(r.address).value_or(0)},
                       {"encap", to_string(encaps.at(r.address))},
                       {"health", real_health_json(health_, v, r)}});
  }
  return {{"ok", true}, {"reals", reals}};
}

// The active ring as the program reads it, with a digest of its bytes (FNV-1a, 64 bits) so
// balancers built from one configuration can be compared at a glance; slots by real id.
json Controller::ring(const json& request) const {
  const ServiceKey key = vip_key_of(request);
  const VipConfig& vip = find_vip(config_, key);
  const AppliedVip& applied = reconciler_.state().vips.at(key);
  const std::vector<std::uint32_t> slots = dp_.read_ring(applied.ring);
  std::uint64_t digest = 0xcbf29ce484222325ULL;
  std::map<std::uint32_t, std::size_t> per_id;
  for (std::uint32_t id : slots) {
    for (int b = 0; b < 4; ++b) digest = (digest ^ ((id >> (8 * b)) & 0xff)) * 0x100000001b3ULL;
    per_id[id]++;
  }
  json reals = json::array();
  for (const RealConfig& r : vip.reals) {
    const std::uint32_t id = reconciler_.real_id(r.address).value_or(0);
    reals.push_back({{"address", r.address.to_string()},
                     {"id", id},
                     {"weight", r.weight},
                     {"slots", per_id.contains(id) ? per_id[id] : 0}});
  }
  return {{"ok", true},
          {"vip", vip_name(vip)},
          {"ring", applied.ring},
          {"size", slots.size()},
          {"digest", fmt::format("{:016x}", digest)},
          {"reals", reals},
          {"slots", slots}};
}

json Controller::flow(const json& request) const {
  const ServiceKey key = vip_key_of(request);
  const Endpoint client = parse_client(field(request, "client"));
  const FlowAnswer a =
      find_flow_real(dp_, reconciler_.state(), key, client, conn_table_now_ticks());
  json answer{{"ok", true},
              {"client", client.to_string()},
              {"vip", to_string(key)},
              {"real", a.real ? json(a.real->to_string()) : json(nullptr)},
              {"real_id", a.real_id},
              {"from", to_string(a.from)},
              {"hash", a.hash}};
  if (a.from == FlowAnswer::From::ring) {
    answer["ring"] = a.ring;
    answer["slot"] = a.slot;
    answer["ring_hash"] = a.ring_hash;
  }
  if (a.stale_real_id) answer["stale_real_id"] = *a.stale_real_id;
  if (a.expired) answer["expired"] = true;
  return answer;
}

json Controller::change(const json& request, const std::string& cmd) {
  Config next = config_;
  ServiceKey key = vip_key_of(request);
  if (cmd == "vip_add") {
    for (const VipConfig& v : next.vips)
      if (ServiceKey::of(v) == key)
        throw Error(fmt::format("VIP {} already exists", to_string(key)));
    next.vips.push_back({.address = key.address,
                         .port = key.port,
                         .proto = key.proto,
                         .flags = flags_of(request),
                         .prefix_len = key.prefix_len});
  } else if (cmd == "vip_edit") {
    if (!request.contains("flags")) throw Error("missing \"flags\"");
    find_vip(next, key).flags = flags_of(request);
  } else if (cmd == "vip_del") {
    find_vip(next, key);
    std::erase_if(next.vips, [&](const VipConfig& v) { return ServiceKey::of(v) == key; });
  } else {
    VipConfig& vip = find_vip(next, key);
    IpAddress address = real_of(request);
    auto it = std::find_if(vip.reals.begin(), vip.reals.end(),
                           [&](const RealConfig& r) { return r.address == address; });
    if (cmd == "real_add") {
      if (it != vip.reals.end())
        throw Error(fmt::format("real {} is already in VIP {} (weight {}; use `real edit`)",
                                address.to_string(), to_string(key), it->weight));
      vip.reals.push_back(
          {.address = address, .weight = weight_of(request), .encap = encap_of(request)});
    } else {
      if (it == vip.reals.end())
        throw Error(fmt::format("real {} is not in VIP {}", address.to_string(), to_string(key)));
      if (cmd == "real_edit")
        it->weight = weight_of(request);
      else
        vip.reals.erase(it);
    }
  }
  ReconcileReport r = apply(next);
  return {{"ok", true}, {"rings_written", r.rings_written}, {"flows_forgotten", r.flows_forgotten}};
}

json Controller::handle(const json& request) {
  try {
    if (!request.is_object()) throw Error("a request is a JSON object");
    std::string cmd = field(request, "cmd");
    if (cmd == "vip_list") return vip_list();
    if (cmd == "real_list") return real_list(request);
    if (cmd == "ring") return ring(request);
    if (cmd == "flow") return flow(request);
    if (cmd == "stats") {
      json s = stats_json(read_stats(dp_, reconciler_.state()), reconciler_.state());
      if (health_) s["health"] = health_stats_json(*health_);
      // One LRU for the whole table: any CPU may fill all of it.
      s["conn_table"]["capacity"] = dp_.limits().conn_entries;
      s["conn_table"]["capacity_per_cpu"] = dp_.limits().conn_entries;
      s["conn_table"]["insert_rate"] = config_.conn_table_insert_rate;
      s["control"] = {{"applies", counters_.applies},
                      {"apply_failures", counters_.apply_failures},
                      {"reloads", counters_.reloads},
                      {"reload_failures", counters_.reload_failures},
                      {"apply_s", seconds(counters_.applying)},
                      {"rings_built", reconciler_.rings_built()},
                      {"ring_build_s", seconds(reconciler_.ring_build_time())}};
      s["ok"] = true;
      return s;
    }
    if (cmd == "reload") {
      ReconcileReport r = reload();
      return {{"ok", true},
              {"vips_added", r.vips_added},
              {"vips_removed", r.vips_removed},
              {"vips_changed", r.vips_changed},
              {"rings_written", r.rings_written}};
    }
    if (cmd == "vip_add" || cmd == "vip_edit" || cmd == "vip_del" || cmd == "real_add" ||
        cmd == "real_edit" || cmd == "real_del")
      return change(request, cmd);
    throw Error(fmt::format("unknown command '{}'", cmd));
  } catch (const std::exception& e) {
    return {{"error", e.what()}};
  }
}

json Controller::handle_line(std::string_view line) {
  json request = json::parse(line, nullptr, false);
  if (request.is_discarded()) return {{"error", "the request is not JSON"}};
  return handle(request);
}

}  // namespace dogfish
