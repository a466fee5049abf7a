#pragma once
// The XDP source-address filter in front of the listeners: compiles
// bpf_c/xdp_filter.bpf.c (only that program), writes the [xdp] policy into
// its maps, attaches it to each configured interface and detaches it again
// when destroyed. See xdp_filter.bpf.c for what it judges and how.
//
// Compile before starting threads that must not be paused by a 0.5 s clang
// run; not thread-safe (the supervisor's thread owns it).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/loader/loader.hpp"
#include "bpf/xdp/xdp_maps.hpp"
#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::bpf {

// How the program ended up on one interface, for the start-up log.
struct XdpInterface {
  std::string name;
  XdpMode mode = XdpMode::native;  // what it runs in
  config::XdpMode requested = config::XdpMode::automatic;
  std::string native_error;             // auto fell back to generic: why native failed
  std::uint32_t replaced_stale_id = 0;  // a stale copy of ours that this replaced
  bool replaced_atomically = false;     // in one step, without a moment unfiltered
  bool replaced_generation = false;     // the copy replaced was the previous worker generation's
};

// The policy of an [xdp] section for listeners on `ports`.
XdpPolicy xdp_policy(const config::Xdp& xdp, std::vector<std::uint16_t> ports);

class XdpFilter {
 public:
  // Compiles, fills the maps, attaches to every interface in order. On any
  // failure what was attached is detached again and the error names the
  // interface and the cause.
  // `master`: the master this worker runs under; the program of another of
  // its workers (the generation this one replaces) is then replaced too.
  static Result<std::unique_ptr<XdpFilter>> create(const config::Xdp& xdp,
                                                   std::vector<std::uint16_t> ports,
                                                   const LoadOptions& options = {},
                                                   std::optional<pid_t> master = std::nullopt);
  ~XdpFilter();
  XdpFilter(const XdpFilter&) = delete;
  XdpFilter& operator=(const XdpFilter&) = delete;

  // New lists, rate and ports, written into the maps of the running program
  // (it stays attached). Interfaces and mode are fixed at create().
  Result<bool> update(const config::Xdp& xdp, std::vector<std::uint16_t> ports);

  [[nodiscard]] Result<XdpCounters> counters() const;
  [[nodiscard]] const std::vector<XdpInterface>& interfaces() const { return interfaces_; }
  [[nodiscard]] std::chrono::milliseconds compile_time() const;

 private:
  XdpFilter(std::unique_ptr<Module> module, XdpMaps maps);
  Result<bool> attach(const std::string& ifname, config::XdpMode requested,
                      std::optional<pid_t> master);

  // Declared first so it is destroyed last: the attachments detach while
  // the program fd they name is still open.
  std::unique_ptr<Module> module_;
  XdpMaps maps_;
  std::vector<Attachment> attachments_;
  std::vector<XdpInterface> interfaces_;
};

}  // namespace sniproxy::bpf
