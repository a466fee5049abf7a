#include "bpf/xdp/xdp_filter.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "bpf/loader/program_info.hpp"
#include "bpf/loader/xdp_device.hpp"
#include "bpf/xdp/xdp_ownership.hpp"
#include "config/xdp_section.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

std::vector<XdpMode> modes_to_try(config::XdpMode requested) {
  switch (requested) {
    case config::XdpMode::native:
      return {XdpMode::native};
    case config::XdpMode::generic:
      return {XdpMode::generic};
    case config::XdpMode::automatic:
      break;
  }
  return {XdpMode::native, XdpMode::generic};
}

std::string occupant_problem(const XdpOccupant& occupant, const std::string& ifname) {
  if (occupant.owner == XdpOwner::running_ours) {
    std::string pids;
    for (pid_t pid : occupant.holders) pids += (pids.empty() ? "" : ",") + std::to_string(pid);
    return fmt::format(
        "sniproxy's XDP program (id {}, {} mode) is attached already and process {} holds it: "
        "another sniproxy filters this interface",
        occupant.id, to_string(occupant.mode), pids);
  }
  return fmt::format(
      "another XDP program, '{}' (id {}, {} mode), is attached and is not sniproxy's, so it is "
      "left alone: detach it (ip link set dev {} xdp off) or configure another interface",
      occupant.name, occupant.id, to_string(occupant.mode), ifname);
}

}  // namespace

XdpPolicy xdp_policy(const config::Xdp& xdp, std::vector<std::uint16_t> ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  XdpPolicy policy;
  policy.ports = std::move(ports);
  policy.allow = xdp.allow;
  policy.deny = xdp.deny;
  policy.syn_rate = xdp.syn_rate;
  policy.syn_burst = xdp.syn_burst;
  return policy;
}

XdpFilter::XdpFilter(std::unique_ptr<Module> module, XdpMaps maps)
    : module_(std::move(module)), maps_(std::move(maps)) {}

XdpFilter::~XdpFilter() {
  // Each Attachment removes the program only while it is still ours.
  attachments_.clear();
}

Result<std::unique_ptr<XdpFilter>> XdpFilter::create(const config::Xdp& xdp,
                                                     std::vector<std::uint16_t> ports,
                                                     const LoadOptions& options,
                                                     std::optional<pid_t> master) {
  ProgramSet set{"xdp_filter",
                 {"xdp_filter.bpf.c"},
                 {fmt::format("-DSNIPROXY_XDP_MAX_PREFIXES={}", config::kXdpMaxPrefixes)},
                 {}};
  auto module = Module::load(set, options);
  if (!module.ok()) return module.error();
  // Through the verifier before any device is touched: a rejection is one
  // clear start-up error, not a half-attached filter.
  auto program = (*module)->program_fd(SNIPROXY_XDP_PROGRAM, ProgramType::xdp);
  if (!program.ok()) return program.error();
  auto maps = XdpMaps::open(**module);
  if (!maps.ok()) return maps.error();
  std::unique_ptr<XdpFilter> filter(new XdpFilter(std::move(*module), std::move(*maps)));
  // The policy is in place before the first packet meets the program.
  auto applied = filter->maps_.apply(xdp_policy(xdp, std::move(ports)));
  if (!applied.ok()) return applied.error();
  for (const std::string& ifname : xdp.interfaces) {
    auto attached = filter->attach(ifname, xdp.mode, master);
    if (!attached.ok()) return attached.error();  // ~XdpFilter detaches the others
  }
  return filter;
}

Result<bool> XdpFilter::attach(const std::string& ifname, config::XdpMode requested,
                               std::optional<pid_t> master) {
  auto fail = [&](const std::string& why) {
    return make_error(fmt::format("XDP: interface {}: {}", ifname, why));
  };
  auto device = query_xdp_device(ifname);
  if (!device.ok()) return fail(device.error().message);
  if (!has_ethernet_frames(*device)) {
    return fail(fmt::format(
        "not an Ethernet device (link type {}); the filter parses Ethernet frames", device->type));
  }
  std::optional<XdpOccupant> stale;
  for (auto [id, mode] : {std::pair{device->native_program, XdpMode::native},
                          std::pair{device->generic_program, XdpMode::generic}}) {
    if (id == 0) continue;
    auto occupant = inspect_xdp_program(id, mode, master);
    if (!occupant.ok()) {
      return fail(fmt::format("cannot inspect the XDP program already attached: {}",
                              occupant.error().message));
    }
    if (occupant->owner != XdpOwner::stale_ours && occupant->owner != XdpOwner::previous_generation)
      return fail(occupant_problem(*occupant, ifname));
    stale = *occupant;
  }

  XdpInterface record;
  record.name = ifname;
  record.replaced_generation = stale && stale->owner == XdpOwner::previous_generation;
  record.requested = requested;
  const std::vector<XdpMode> modes = modes_to_try(requested);
  for (XdpMode mode : modes) {
    XdpAttachOptions options;
    if (stale && stale->mode == mode) {
      options.replace_program_id = stale->id;
    } else if (stale) {
      // Native and generic exclude each other: the stale program (in the
      // other mode) goes first, checked to be still that one.
      auto old = program_fd_by_id(stale->id);
      if (!old.ok()) return fail(old.error().message);
      auto netlink = Rtnetlink::open();
      if (!netlink.ok()) return fail(netlink.error().message);
      auto removed = set_xdp_program(*netlink, device->ifindex, -1, stale->mode, old->get());
      if (!removed.ok()) {
        return fail(fmt::format("cannot remove the stale sniproxy program (id {}): {}", stale->id,
                                removed.error().message));
      }
      record.replaced_stale_id = stale->id;
      stale.reset();
    }
    auto attached = module_->attach_xdp(ifname, SNIPROXY_XDP_PROGRAM, mode, options);
    if (attached.ok()) {
      if (options.replace_program_id != 0) {
        record.replaced_stale_id = options.replace_program_id;
        record.replaced_atomically = true;
      }
      record.mode = mode;
      attachments_.push_back(std::move(*attached));
      interfaces_.push_back(record);
      return true;
    }
    if (mode == XdpMode::native && modes.size() > 1) {
      record.native_error = attached.error().message;
      continue;
    }
    std::string why = attached.error().message;
    if (!record.native_error.empty()) why += "; native mode had failed too: " + record.native_error;
    return make_error(fmt::format("XDP: {}", why));
  }
  return fail("no attach mode to try");
}

Result<bool> XdpFilter::update(const config::Xdp& xdp, std::vector<std::uint16_t> ports) {
  return maps_.apply(xdp_policy(xdp, std::move(ports)));
}

Result<XdpCounters> XdpFilter::counters() const {
  return maps_.counters();
}

std::chrono::milliseconds XdpFilter::compile_time() const {
  return module_->compile_time();
}

}  // namespace sniproxy::bpf
