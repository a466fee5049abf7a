#pragma once
// Bytes between two sockets of this host that skip the TCP stack
// (bpf_c/local_redirect.bpf.c): a sock_ops program on a cgroup puts both
// sockets of each loopback connection to a listed endpoint into a sockhash,
// and an sk_msg program on that sockhash moves every send straight into the
// peer's receive queue.
//
// Created once: compile, load, attach the sk_msg program to the sockhash
// and only then the sock_ops program to the cgroup (so no socket is in the
// map without the program). Destroying it detaches both; sockets already in
// the map keep their redirect until they close (the kernel keeps a map
// alive while a program uses it). Not thread-safe for add/remove; the
// queries only make bpf() calls.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "bpf/loader/loader.hpp"
#include "common/address.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

struct LocalRedirectOptions {
  std::uint32_t max_sockets = 65536;  // two per connection
  LoadOptions load{};
  // The cgroup (v2) directory whose processes' connections are seen;
  // default: the root of the cgroup2 mount (every process).
  std::optional<std::string> cgroup;
  // Receive memory a peer may hold (bytes sent to it and not read) before
  // a sender's bytes go through TCP instead, where its window stalls them.
  std::uint64_t queue_cap = 4 << 20;
  // The running kernel's BTF, for the offset of a socket's receive memory.
  std::string btf_path = "/sys/kernel/btf/vmlinux";
};

// Why a socket's bytes went (last) through TCP.
enum class LocalTcpReason {
  none,
  no_peer,  // its peer was not (or no longer) in the sockhash
  over_cap  // its peer held queue_cap unread bytes
};

// What the sk_msg program did with the sends of one socket.
struct LocalSendState {
  std::uint64_t redirected = 0;  // bytes put into the peer's receive queue
  std::uint64_t passed = 0;      // bytes sent through TCP
  bool tcp_used = false;         // bytes go through TCP now (until the peer read them all)
  LocalTcpReason tcp_reason = LocalTcpReason::none;  // of the last switch to TCP
  std::uint32_t tcp_switches = 0;                    // switches to TCP so far
};

class LocalRedirect {
 public:
  static Result<std::unique_ptr<LocalRedirect>> create(const LocalRedirectOptions& options = {});
  ~LocalRedirect();
  LocalRedirect(const LocalRedirect&) = delete;
  LocalRedirect& operator=(const LocalRedirect&) = delete;

  // Connections established to `endpoint` from now on are redirected when
  // both ends are on this host (for the proxy's listeners: every such
  // connection is the proxy's). An unspecified address means every address
  // on that port.
  Result<bool> add_endpoint(const Endpoint& endpoint);
  Result<bool> remove_endpoint(const Endpoint& endpoint);
  // Marks a socket this process is about to connect(): if the connection
  // turns out to be local, both of its ends are redirected. Only this
  // connection: other processes' connections to the same endpoint are not.
  Result<bool> mark_for_connect(int fd);

  // For a socket this process holds: whether it is in the sockhash, and
  // what its sends did (nullopt: it has not sent since it was inserted).
  [[nodiscard]] Result<bool> contains(int fd) const;
  [[nodiscard]] Result<std::optional<LocalSendState>> send_state(int fd) const;
  // Takes one of this process's sockets out of the sockhash (its peer's
  // sends then go through TCP), or puts it in.
  Result<bool> remove(int fd);
  Result<bool> insert(int fd);

  // Sockets whose kernel address the programs keep (inserted and not yet
  // closed): walks the map, for tests and /status.
  [[nodiscard]] Result<std::size_t> tracked_sockets() const;

  [[nodiscard]] const std::string& cgroup() const { return cgroup_; }
  [[nodiscard]] std::chrono::milliseconds compile_time() const;

 private:
  LocalRedirect() = default;
  std::unique_ptr<Module> module_;
  Attachment msg_program_;
  Attachment sockops_program_;
  std::string cgroup_;
  int sockets_fd_ = -1;    // owned by module_
  int endpoints_fd_ = -1;  // owned by module_
  int state_fd_ = -1;      // owned by module_
  int settings_fd_ = -1;   // owned by module_
  int addresses_fd_ = -1;  // owned by module_
  int owned_fd_ = -1;      // owned by module_
};

}  // namespace sniproxy::bpf
