#include "bpf/local_redirect/local_redirect.hpp"

#include <bcc/libbpf.h>
#include <linux/bpf.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bpf/loader/cgroup_mount.hpp"
#include "bpf/local_redirect/local_redirect_layout.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

// ::ffff:a.b.c.d for IPv4, as the BPF side keys them.
void copy_mapped(const IpAddress& ip, std::uint8_t* out) {
  if (ip.family == Family::v6) {
    std::memcpy(out, ip.bytes.data(), 16);
    return;
  }
  std::memset(out, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out + 12, ip.bytes.data(), 4);
}

sniproxy_local_endpoint endpoint_key(const Endpoint& endpoint) {
  sniproxy_local_endpoint key{};
  if (!endpoint.ip.is_unspecified())
    copy_mapped(endpoint.ip, key.addr);
  else if (endpoint.ip.family == Family::v4)
    key.addr[10] = key.addr[11] = 0xff;
  key.port = endpoint.port;
  return key;
}

Result<sniproxy_local_key> socket_key(int fd) {
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t local_length = sizeof(local);
  socklen_t remote_length = sizeof(remote);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_length) != 0) {
    return make_error(fmt::format("socket {} has no peer: {}", fd, std::strerror(errno)));
  }
  auto local_endpoint = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&local));
  auto remote_endpoint = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&remote));
  if (!local_endpoint || !remote_endpoint) {
    return make_error(fmt::format("socket {} is not an IP socket", fd));
  }
  sniproxy_local_key key{};
  copy_mapped(local_endpoint->ip, key.local_addr);
  copy_mapped(remote_endpoint->ip, key.remote_addr);
  key.local_port = local_endpoint->port;
  key.remote_port = remote_endpoint->port;
  return key;
}

Result<bool> map_call(int result, std::string_view what) {
  if (result != 0) return make_error(fmt::format("BPF: {}: {}", what, std::strerror(errno)));
  return true;
}

}  // namespace

Result<std::unique_ptr<LocalRedirect>> LocalRedirect::create(const LocalRedirectOptions& options) {
  std::unique_ptr<LocalRedirect> redirect(new LocalRedirect());
  if (options.cgroup) {
    redirect->cgroup_ = *options.cgroup;
  } else {
    auto mount = cgroup2_mount();
    if (!mount.ok()) return mount.error();
    redirect->cgroup_ = *mount;
  }
  auto layout = read_local_redirect_layout(options.btf_path);
  if (!layout.ok()) return layout.error();
  ProgramSet set{.name = "local_redirect",
                 .files = {"local_redirect.bpf.c"},
                 .cflags = layout->cflags(),
                 .sources = {}};
  set.cflags.push_back(fmt::format("-DLOCAL_REDIRECT_MAX_SOCKETS={}", options.max_sockets));
  auto module = Module::load(set, options.load);
  if (!module.ok()) return module.error();
  redirect->module_ = std::move(*module);
  Module& loaded = *redirect->module_;
  for (auto [name, out] : {std::pair{"local_socks", &redirect->sockets_fd_},
                           std::pair{"local_endpoints", &redirect->endpoints_fd_},
                           std::pair{"local_state", &redirect->state_fd_},
                           std::pair{"local_settings", &redirect->settings_fd_},
                           std::pair{"local_sk_addr", &redirect->addresses_fd_},
                           std::pair{"local_owned", &redirect->owned_fd_}}) {
    auto fd = loaded.map_fd(name);
    if (!fd.ok()) return fd.error();
    *out = *fd;
  }
  sniproxy_local_settings settings{options.queue_cap};
  std::uint32_t slot = 0;
  auto set_cap = map_call(bpf_update_elem(redirect->settings_fd_, &slot, &settings, BPF_ANY),
                          "cannot set the local redirect cap");
  if (!set_cap.ok()) return set_cap.error();
  // The sk_msg program first: a socket must never be in the map without it.
  auto msg = loaded.attach_to_map(redirect->sockets_fd_, "local_msg", ProgramType::sk_msg);
  if (!msg.ok()) return msg.error();
  redirect->msg_program_ = std::move(*msg);
  auto sockops = loaded.attach_to_cgroup(redirect->cgroup_, "local_sockops", ProgramType::sock_ops);
  if (!sockops.ok()) return sockops.error();
  redirect->sockops_program_ = std::move(*sockops);
  return redirect;
}

LocalRedirect::~LocalRedirect() {
  // New connections first, then the sends of the ones in the map.
  sockops_program_.detach();
  msg_program_.detach();
}

Result<bool> LocalRedirect::add_endpoint(const Endpoint& endpoint) {
  const auto key = endpoint_key(endpoint);
  const std::uint32_t listed = 1;
  return map_call(bpf_update_elem(endpoints_fd_, const_cast<sniproxy_local_endpoint*>(&key),
                                  const_cast<std::uint32_t*>(&listed), BPF_ANY),
                  fmt::format("cannot list {} for local redirect", endpoint.to_string()));
}

Result<bool> LocalRedirect::remove_endpoint(const Endpoint& endpoint) {
  auto key = endpoint_key(endpoint);
  if (bpf_delete_elem(endpoints_fd_, &key) != 0 && errno != ENOENT) {
    return make_error(
        fmt::format("BPF: cannot unlist {}: {}", endpoint.to_string(), std::strerror(errno)));
  }
  return true;
}

Result<bool> LocalRedirect::mark_for_connect(int fd) {
  const std::uint32_t owned = 1;
  return map_call(bpf_update_elem(owned_fd_, &fd, const_cast<std::uint32_t*>(&owned), BPF_ANY),
                  fmt::format("cannot mark socket {} for local redirect", fd));
}

Result<bool> LocalRedirect::contains(int fd) const {
  auto key = socket_key(fd);
  if (!key.ok()) return key.error();
  std::uint64_t cookie = 0;  // a sockhash lookup from userspace yields the socket cookie
  if (bpf_lookup_elem(sockets_fd_, &*key, &cookie) == 0) return true;
  if (errno == ENOENT) return false;
  return make_error(fmt::format("BPF: local_socks lookup: {}", std::strerror(errno)));
}

Result<std::optional<LocalSendState>> LocalRedirect::send_state(int fd) const {
  sniproxy_local_state value{};
  if (bpf_lookup_elem(state_fd_, &fd, &value) != 0) {
    if (errno == ENOENT) return std::optional<LocalSendState>();
    return make_error(fmt::format("BPF: local_state lookup: {}", std::strerror(errno)));
  }
  LocalTcpReason reason = LocalTcpReason::none;
  if (value.tcp_reason == SNIPROXY_LOCAL_TCP_NO_PEER) reason = LocalTcpReason::no_peer;
  if (value.tcp_reason == SNIPROXY_LOCAL_TCP_OVER_CAP) reason = LocalTcpReason::over_cap;
  return std::optional<LocalSendState>(LocalSendState{
      value.redirected, value.passed, value.tcp_used != 0, reason, value.tcp_switches});
}

Result<bool> LocalRedirect::remove(int fd) {
  auto key = socket_key(fd);
  if (!key.ok()) return key.error();
  if (bpf_delete_elem(sockets_fd_, &*key) != 0 && errno != ENOENT) {
    return make_error(fmt::format("BPF: local_socks delete: {}", std::strerror(errno)));
  }
  return true;
}

Result<bool> LocalRedirect::insert(int fd) {
  auto key = socket_key(fd);
  if (!key.ok()) return key.error();
  std::uint64_t value = static_cast<std::uint64_t>(fd);
  return map_call(bpf_update_elem(sockets_fd_, &*key, &value, BPF_NOEXIST),
                  fmt::format("cannot insert socket {} into local_socks", fd));
}

Result<std::size_t> LocalRedirect::tracked_sockets() const {
  std::size_t count = 0;
  sniproxy_local_key key{};
  sniproxy_local_key next{};
  const void* previous = nullptr;
  while (bpf_get_next_key(addresses_fd_, const_cast<void*>(previous), &next) == 0) {
    ++count;
    key = next;
    previous = &key;
  }
  if (errno != ENOENT) {
    return make_error(fmt::format("BPF: local_sk_addr walk: {}", std::strerror(errno)));
  }
  return count;
}

std::chrono::milliseconds LocalRedirect::compile_time() const {
  return module_->compile_time();
}

}  // namespace sniproxy::bpf
