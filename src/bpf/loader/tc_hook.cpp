#include "bpf/loader/tc_hook.hpp"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bpf/loader/loader.hpp"

namespace sniproxy::bpf {
namespace {

// Not in the uapi headers of older distributions (Linux 6.6).
constexpr unsigned kTcxIngress = 46;

UniqueFd open_own_netns() {
  return UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
}

bool same_namespace(int a, int b) {
  struct stat sa {};
  struct stat sb {};
  if (::fstat(a, &sa) != 0 || ::fstat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Runs the scope in `target` when this thread is in another namespace.
class EnteredNamespace {
 public:
  explicit EnteredNamespace(int target) {
    UniqueFd own = open_own_netns();
    if (!own.valid() || target < 0) return;
    if (same_namespace(own.get(), target)) {
      inside_ = true;
    } else if (::setns(target, CLONE_NEWNET) == 0) {
      inside_ = true;
      back_ = std::move(own);
    }
  }
  ~EnteredNamespace() {
    if (back_.valid()) ::setns(back_.get(), CLONE_NEWNET);
  }
  EnteredNamespace(const EnteredNamespace&) = delete;
  EnteredNamespace& operator=(const EnteredNamespace&) = delete;
  // False: still elsewhere, where the ifindex may name another device.
  [[nodiscard]] bool inside() const { return inside_; }

 private:
  bool inside_ = false;
  UniqueFd back_;
};

bpf_tc_hook ingress_hook(int ifindex, bpf_tc_attach_point point = BPF_TC_INGRESS) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  return hook;
}

Error errno_error(std::string message, int error) {
  Error e = make_error(std::move(message));
  e.sys_errno = error;
  return e;
}

}  // namespace

std::string_view to_string(TcAttachMode mode) {
  switch (mode) {
    case TcAttachMode::automatic:
      return "auto";
    case TcAttachMode::tcx:
      return "tcx";
    case TcAttachMode::clsact:
      return "clsact";
  }
  return "unknown";
}

Result<UniqueFd> attach_tcx_ingress(int ifindex, int program_fd) {
  bpf_attr attr{};
  attr.link_create.prog_fd = static_cast<std::uint32_t>(program_fd);
  attr.link_create.target_fd = static_cast<std::uint32_t>(ifindex);  // target_ifindex
  attr.link_create.attach_type = static_cast<bpf_attach_type>(kTcxIngress);
  UniqueFd link(static_cast<int>(::syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr))));
  if (link.valid()) return link;
  const int error = errno;
  return errno_error(fmt::format("tcx ingress link: {}{}", std::strerror(error),
                                 error == EINVAL ? " (no tcx before Linux 6.6)" : ""),
                     error);
}

Result<ClsactFilter> attach_clsact_ingress(int ifindex, int program_fd) {
  ClsactFilter filter;
  filter.ifindex = ifindex;
  filter.netns = open_own_netns();
  if (!filter.netns.valid()) {
    return errno_error(
        fmt::format("cannot open this thread's network namespace: {}", std::strerror(errno)),
        errno);
  }
  bpf_tc_hook hook = ingress_hook(ifindex);
  int created = bpf_tc_hook_create(&hook);
  if (created != 0 && created != -EEXIST) {
    return errno_error(fmt::format("cannot create the clsact qdisc: {}{}", std::strerror(-created),
                                   created == -EPERM ? " (needs CAP_NET_ADMIN)" : ""),
                       -created);
  }
  filter.created_qdisc = created == 0;
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.prog_fd = program_fd;
  int attached = bpf_tc_attach(&hook, &opts);
  if (attached != 0) {
    if (filter.created_qdisc) {
      bpf_tc_hook both =
          ingress_hook(ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
      bpf_tc_hook_destroy(&both);
    }
    return errno_error(
        fmt::format("cannot add the clsact ingress filter: {}", std::strerror(-attached)),
        -attached);
  }
  filter.handle = opts.handle;
  filter.priority = opts.priority;
  return filter;
}

void detach_clsact_ingress(const ClsactFilter& filter) {
  EnteredNamespace entered(filter.netns.get());
  if (!entered.inside()) return;  // the namespace went, and the device with it
  bpf_tc_hook hook = ingress_hook(filter.ifindex);
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = filter.handle;
  opts.priority = filter.priority;
  bpf_tc_detach(&hook, &opts);
  if (filter.created_qdisc) {
    // Ingress and egress together name the qdisc itself.
    bpf_tc_hook both = ingress_hook(
        filter.ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    bpf_tc_hook_destroy(&both);
  }
}

}  // namespace sniproxy::bpf
