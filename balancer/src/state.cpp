#include "dogfish/state.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "dogfish/errors.hpp"

namespace dogfish {

RealIds::RealIds(std::uint32_t max_reals, Clock::duration quarantine) : max_reals_(max_reals), quarantine_(quarantine)
{
    if (max_reals < 2)
        throw Error(fmt::format("max_reals {} leaves no id for a real", max_reals));
}

std::uint32_t RealIds::find(const IpAddress& address) const
{
    auto it = ids_.find(address);
    return it == ids_.end() ? DF_REAL_NONE : it->second;
}

void RealIds::reconcile(const std::set<IpAddress>& wanted, Clock::time_point now)
{
    // Work on copies: on running out of ids nothing has changed.
    auto ids = ids_;
    auto released = released_;
    auto next_fresh = next_fresh_;

    for (auto it = ids.begin(); it != ids.end();) {
        if (wanted.contains(it->first)) {
            ++it;
            continue;
        }
        released[it->second] = Released{it->first, now};
        it = ids.erase(it);
    }

    // A real coming back takes its old id while no one else has it.
    for (auto it = released.begin(); it != released.end();) {
        if (wanted.contains(it->second.address) && !ids.contains(it->second.address)) {
            ids.emplace(it->second.address, it->first);
            it = released.erase(it);
        } else {
            ++it;
        }
    }

    for (const auto& address : wanted) {
        if (ids.contains(address))
            continue;
        if (next_fresh < max_reals_) {
            ids.emplace(address, next_fresh++);
            continue;
        }
        auto reusable = std::find_if(released.begin(), released.end(),
                                     [&](const auto& r) { return now - r.second.at >= quarantine_; });
        if (reusable == released.end())
            throw Error(fmt::format("no real id left for {}: {} in use, {} in quarantine (max_reals {})",
                                    address.to_string(), ids.size(), released.size(), max_reals_));
        ids.emplace(address, reusable->first);
        released.erase(reusable);
    }

    ids_ = std::move(ids);
    released_ = std::move(released);
    next_fresh_ = next_fresh;
}

std::set<IpAddress> configured_reals(const Config& config)
{
    std::set<IpAddress> out;
    for (const auto& vip : config.vips)
        for (const auto& real : vip.reals)
            out.insert(real.address);
    return out;
}

VipKey vip_key(const VipConfig& vip)
{
    return {vip.address, vip.port, vip.proto};
}

namespace {

std::map<VipKey, const VipConfig*> by_key(const Config& config)
{
    std::map<VipKey, const VipConfig*> out;
    for (const auto& vip : config.vips)
        out.emplace(vip_key(vip), &vip);
    return out;
}

// What the ring is built from: the reals that have a weight.
std::map<IpAddress, std::uint32_t> ring_input(const VipConfig& vip)
{
    std::map<IpAddress, std::uint32_t> out;
    for (const auto& real : vip.reals)
        if (real.weight > 0)
            out.emplace(real.address, real.weight);
    return out;
}

VipChange diff_vip(const VipConfig& before, const VipConfig& after)
{
    VipChange change;
    change.key = vip_key(after);
    change.flags_changed = before.flags != after.flags;
    std::map<IpAddress, std::uint32_t> old_weights;
    for (const auto& real : before.reals)
        old_weights.emplace(real.address, real.weight);
    std::set<IpAddress> now;
    for (const auto& real : after.reals) {
        now.insert(real.address);
        auto it = old_weights.find(real.address);
        if (it == old_weights.end())
            change.reals_added.push_back(real);
        else if (it->second != real.weight)
            change.reals_reweighted.push_back({real.address, it->second, real.weight});
    }
    for (const auto& [address, weight] : old_weights)
        if (!now.contains(address))
            change.reals_removed.push_back(address);
    auto by_address = [](const auto& a, const auto& b) { return a.address < b.address; };
    std::sort(change.reals_added.begin(), change.reals_added.end(), by_address);
    std::sort(change.reals_reweighted.begin(), change.reals_reweighted.end(), by_address);
    return change;
}

} // namespace

bool ConfigDiff::empty() const
{
    return vips_added.empty() && vips_removed.empty() && vips_changed.empty() && rings_to_build.empty() &&
           reals_added.empty() && reals_removed.empty() && !data_plane_config_changed && !needs_restart;
}

ConfigDiff diff_configs(const Config& before, const Config& after)
{
    ConfigDiff diff;
    const auto old_vips = by_key(before);
    const auto new_vips = by_key(after);
    for (const auto& [key, vip] : new_vips) {
        auto it = old_vips.find(key);
        if (it == old_vips.end()) {
            diff.vips_added.push_back(key);
            diff.rings_to_build.push_back(key);
            continue;
        }
        auto change = diff_vip(*it->second, *vip);
        if (change.flags_changed || !change.reals_added.empty() || !change.reals_removed.empty() ||
            !change.reals_reweighted.empty())
            diff.vips_changed.push_back(std::move(change));
        if (ring_input(*it->second) != ring_input(*vip) || before.ring_size != after.ring_size)
            diff.rings_to_build.push_back(key);
    }
    for (const auto& [key, vip] : old_vips)
        if (!new_vips.contains(key))
            diff.vips_removed.push_back(key);

    const auto old_reals = configured_reals(before);
    const auto new_reals = configured_reals(after);
    std::set_difference(new_reals.begin(), new_reals.end(), old_reals.begin(), old_reals.end(),
                        std::back_inserter(diff.reals_added));
    std::set_difference(old_reals.begin(), old_reals.end(), new_reals.begin(), new_reals.end(),
                        std::back_inserter(diff.reals_removed));

    const df_config old_dp = make_df_config(before), new_dp = make_df_config(after);
    diff.data_plane_config_changed =
        std::memcmp(&old_dp, &new_dp, sizeof(df_config)) != 0 || before.gateway != after.gateway;
    diff.needs_restart = before.interface != after.interface || before.xdp_mode != after.xdp_mode ||
                         before.ring_size != after.ring_size || before.max_vips != after.max_vips ||
                         before.max_reals != after.max_reals || before.conn_table_size != after.conn_table_size;
    return diff;
}

} // namespace dogfish
