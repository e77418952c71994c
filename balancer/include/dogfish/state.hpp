// What the daemon keeps between reconfigurations: real ids, and what changes
// from one configuration to the next.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "dogfish/config.hpp"

namespace dogfish {

// Stable ids for real addresses. The data plane stores reals by id (the rings
// and the connection table hold ids), so an id never changes while its real is
// configured in any VIP. New reals take never-used ids first, lowest first; a
// released id is reused only when those run out, lowest first, and only after a
// quarantine, so that connection-table entries and rings still naming it have
// aged out. A real that comes back before its old id is reused gets it again.
class RealIds {
public:
    using Clock = std::chrono::steady_clock;

    // Ids are 1 .. max_reals - 1 (DF_REAL_NONE is never a real).
    explicit RealIds(std::uint32_t max_reals = DF_DEFAULT_MAX_REALS,
                     Clock::duration quarantine = std::chrono::seconds(60));

    // Makes `wanted` the configured reals: keeps the ids of those already
    // configured, gives ids to the new, releases those of the rest. Throws Error
    // (changing nothing) when there are not enough ids.
    void reconcile(const std::set<IpAddress>& wanted, Clock::time_point now);

    // The id of a configured real, or DF_REAL_NONE.
    std::uint32_t find(const IpAddress& address) const;
    const std::map<IpAddress, std::uint32_t>& ids() const noexcept { return ids_; }

private:
    struct Released {
        IpAddress address; // its last owner
        Clock::time_point at;
    };

    std::uint32_t max_reals_;
    Clock::duration quarantine_;
    std::uint32_t next_fresh_ = 1; // lowest id never given out
    std::map<IpAddress, std::uint32_t> ids_;
    std::map<std::uint32_t, Released> released_; // by id, so the lowest comes first
};

// Every real address configured in any VIP.
std::set<IpAddress> configured_reals(const Config& config);

// A VIP's identity: what the data plane's VIP map is keyed by.
using VipKey = std::tuple<IpAddress, std::uint16_t, Proto>;
VipKey vip_key(const VipConfig& vip);

struct Reweight {
    IpAddress address;
    std::uint32_t from;
    std::uint32_t to;

    bool operator==(const Reweight&) const = default;
};

struct VipChange {
    VipKey key;
    std::vector<RealConfig> reals_added;
    std::vector<IpAddress> reals_removed;
    std::vector<Reweight> reals_reweighted;
    bool flags_changed = false;

    bool operator==(const VipChange&) const = default;
};

// From one configuration to the next, in the order of VIP keys.
struct ConfigDiff {
    std::vector<VipKey> vips_added;
    std::vector<VipKey> vips_removed;
    std::vector<VipChange> vips_changed; // present in both, with some change
    std::vector<VipKey> rings_to_build; // VIPs whose set of (address, weight > 0) is new
    std::vector<IpAddress> reals_added; // configured now, in no VIP before
    std::vector<IpAddress> reals_removed; // in some VIP before, in none now
    bool data_plane_config_changed = false; // df_config differs (gateway, prefixes, timeouts, sizes)
    bool needs_restart = false; // a map size changed: ring_size, max_vips, max_reals, conn_table_size, interface, xdp_mode

    bool empty() const;
};

ConfigDiff diff_configs(const Config& before, const Config& after);

} // namespace dogfish
