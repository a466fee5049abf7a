// Module over BCC's ebpf::BPF. Every BCC call that may print runs under
// StdioCapture so failures become one line (bcc_output.hpp).
#include <bcc/BPF.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <net/if.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "bpf/loader/attachment_state.hpp"
#include "bpf/loader/bcc_output.hpp"
#include "bpf/loader/kernel_headers.hpp"
#include "bpf/loader/loader.hpp"
#include "bpf/loader/program_info.hpp"
#include "bpf/loader/tc_hook.hpp"
#include "bpf/loader/tracefs.hpp"
#include "bpf/loader/xdp_device.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf {
namespace {

// BCC's output capture and $BCC_KERNEL_SOURCE are process-wide.
std::mutex& bcc_mutex() {
  static std::mutex mutex;
  return mutex;
}

// Sets an environment variable for one scope and restores the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (!value) return;
    active_ = true;
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value->c_str(), 1);
  }
  ~ScopedEnv() {
    if (!active_) return;
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool active_ = false;
  std::optional<std::string> old_;
};

std::string permission_message(std::string_view what) {
  return fmt::format(
      "BPF: permission denied loading {}: needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) — run "
      "as root or grant them",
      what);
}

bpf_prog_type kernel_program_type(ProgramType type) {
  switch (type) {
    case ProgramType::sk_skb_stream_parser:
    case ProgramType::sk_skb_stream_verdict:
      return BPF_PROG_TYPE_SK_SKB;
    case ProgramType::sk_msg:
      return BPF_PROG_TYPE_SK_MSG;
    case ProgramType::xdp:
      return BPF_PROG_TYPE_XDP;
    case ProgramType::tracepoint:
      return BPF_PROG_TYPE_TRACEPOINT;
    case ProgramType::kprobe:
      return BPF_PROG_TYPE_KPROBE;
    case ProgramType::sock_ops:
      return BPF_PROG_TYPE_SOCK_OPS;
    case ProgramType::sched_cls:
      return BPF_PROG_TYPE_SCHED_CLS;
  }
  return BPF_PROG_TYPE_UNSPEC;
}

std::optional<bpf_attach_type> map_attach_type(ProgramType type) {
  switch (type) {
    case ProgramType::sk_skb_stream_parser:
      return BPF_SK_SKB_STREAM_PARSER;
    case ProgramType::sk_skb_stream_verdict:
      return BPF_SK_SKB_STREAM_VERDICT;
    case ProgramType::sk_msg:
      return BPF_SK_MSG_VERDICT;
    default:
      return std::nullopt;
  }
}

std::string first_line(std::string_view text) {
  std::size_t start = text.find_first_not_of("\n ");
  if (start == std::string_view::npos) return {};
  return std::string(text.substr(start, text.find('\n', start) - start));
}

}  // namespace

std::string_view to_string(ProgramType type) {
  switch (type) {
    case ProgramType::sk_skb_stream_parser:
      return "sk_skb_stream_parser";
    case ProgramType::sk_skb_stream_verdict:
      return "sk_skb_stream_verdict";
    case ProgramType::sk_msg:
      return "sk_msg";
    case ProgramType::xdp:
      return "xdp";
    case ProgramType::tracepoint:
      return "tracepoint";
    case ProgramType::kprobe:
      return "kprobe";
    case ProgramType::sock_ops:
      return "sock_ops";
    case ProgramType::sched_cls:
      return "sched_cls";
  }
  return "unknown";
}

struct Module::Impl {
  std::string name;
  std::unique_ptr<ebpf::BPF> bpf;
  std::chrono::milliseconds compile_time{0};
  std::map<std::string, bpf_prog_type, std::less<>> loaded_types;
  std::vector<std::weak_ptr<detail::AttachmentState>> attachments;

  Attachment track(std::string description, std::function<void()> detach_action) {
    auto state = std::make_shared<detail::AttachmentState>();
    state->description = std::move(description);
    state->detach_action = std::move(detach_action);
    std::erase_if(attachments, [](const auto& weak) { return weak.expired(); });
    attachments.push_back(state);
    return Attachment(std::move(state));
  }
};

Module::Module(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Module::~Module() {
  // Detach while the program fds are still open, then let BCC free the rest.
  for (auto& weak : impl_->attachments) {
    if (auto state = weak.lock()) state->detach();
  }
  std::lock_guard lock(bcc_mutex());
  StdioCapture capture;
  impl_->bpf.reset();
}

Result<std::unique_ptr<Module>> Module::load(const ProgramSet& set, const LoadOptions& options) {
  HeaderTree tree = find_header_tree(options.kernel_source);
  if (!tree.found) return make_error(missing_header_tree_message(tree));
  auto source = assemble_source(set.files, set.sources);
  if (!source.ok()) return source.error();

  auto impl = std::make_unique<Impl>();
  impl->name = set.name;
  // The rw engine (LLVM-generated table printers) is unused here and costs
  // only ~10 ms, but BCC 0.26 with it off frees JIT memory in ~BPFModule
  // after a failed map creation (free(): invalid pointer), so keep it on.
  impl->bpf = std::make_unique<ebpf::BPF>(0, nullptr, /*rw_engine_enabled=*/true);
  ebpf::StatusTuple status(0);
  std::string output;
  {
    std::lock_guard lock(bcc_mutex());
    ScopedEnv kernel_source("BCC_KERNEL_SOURCE", options.kernel_source);
    StdioCapture capture;
    auto start = std::chrono::steady_clock::now();
    status = impl->bpf->init(*source, set.cflags);
    impl->compile_time = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    output = capture.finish();
  }
  if (status.ok()) return std::unique_ptr<Module>(new Module(std::move(impl)));

  if (auto error = first_compile_error(output)) {
    return make_error(fmt::format("BPF: cannot compile {}: {}", set.name, *error));
  }
  if (mentions_permission_denied(output)) {
    return make_error(permission_message(set.name));
  }
  if (output.find("Unable to find kernel headers") != std::string::npos) {
    return make_error(missing_header_tree_message(tree));
  }
  std::string detail = first_line(output);
  return make_error(fmt::format("BPF: cannot load {}: {}{}", set.name, status.msg(),
                                detail.empty() ? "" : " (" + detail + ")"));
}

Result<int> Module::program_fd(std::string_view function_name, ProgramType type) {
  bpf_prog_type kernel_type = kernel_program_type(type);
  if (auto it = impl_->loaded_types.find(function_name); it != impl_->loaded_types.end()) {
    if (it->second != kernel_type) {
      return make_error(fmt::format("BPF: {} is already loaded as another program type than {}",
                                    function_name, to_string(type)));
    }
  }
  std::string function(function_name);
  int fd = -1;
  ebpf::StatusTuple status(0);
  std::string output;
  {
    std::lock_guard lock(bcc_mutex());
    StdioCapture capture;
    status = impl_->bpf->load_func(function, kernel_type, fd);
    output = capture.finish();
  }
  if (status.ok()) {
    impl_->loaded_types.emplace(function, kernel_type);
    return fd;
  }
  if (status.msg().find("Can't find start of function") != std::string::npos) {
    return make_error(fmt::format("BPF: no function {} in module {}", function, impl_->name));
  }
  LoadFailure failure = classify_load_failure(output);
  switch (failure.kind) {
    case LoadFailureKind::permission:
      return make_error(permission_message(function));
    case LoadFailureKind::verifier:
      return make_error(fmt::format("BPF: verifier rejected {} ({})", function, failure.detail));
    case LoadFailureKind::other:
      break;
  }
  return make_error(fmt::format("BPF: cannot load {} as {}: {}", function, to_string(type),
                                failure.detail.empty() ? status.msg() : failure.detail));
}

Result<int> Module::map_fd(std::string_view map_name) {
  int fd = impl_->bpf->get_table(std::string(map_name)).get_fd();
  if (fd < 0) return make_error(fmt::format("BPF: no map {} in module {}", map_name, impl_->name));
  return fd;
}

Result<Attachment> Module::attach_tracepoint(std::string_view category_event,
                                             std::string_view function) {
  std::size_t colon = category_event.find(':');
  if (colon == std::string_view::npos) {
    return make_error(
        fmt::format(R"(BPF: tracepoint "{}" is not "category:event")", category_event));
  }
  auto tracefs = ensure_tracefs();
  if (!tracefs.ok()) return tracefs.error();
  if (!tracepoint_exists(tracefs->path, category_event)) {
    return make_error(fmt::format("BPF: the kernel has no tracepoint {} (no {}/events/{}/{})",
                                  category_event, tracefs->path, category_event.substr(0, colon),
                                  category_event.substr(colon + 1)));
  }
  auto program = program_fd(function, ProgramType::tracepoint);
  if (!program.ok()) return program.error();
  std::string category(category_event.substr(0, colon));
  std::string event(category_event.substr(colon + 1));
  int perf_fd = -1;
  std::string output;
  {
    std::lock_guard lock(bcc_mutex());
    StdioCapture capture;
    perf_fd = bpf_attach_tracepoint(*program, category.c_str(), event.c_str());
    output = capture.finish();
  }
  if (perf_fd < 0) {
    return make_error(fmt::format("BPF: cannot attach {} to tracepoint {}: {}", function,
                                  category_event, first_line(output)));
  }
  return impl_->track(fmt::format("tracepoint {} <- {}", category_event, function),
                      [perf_fd] { bpf_close_perf_event_fd(perf_fd); });
}

Result<Attachment> Module::attach_kprobe(std::string_view kernel_function,
                                         std::string_view function) {
  auto tracefs = ensure_tracefs();
  if (!tracefs.ok()) return tracefs.error();
  auto program = program_fd(function, ProgramType::kprobe);
  if (!program.ok()) return program.error();
  std::string target(kernel_function);
  ebpf::StatusTuple status(0);
  std::string output;
  {
    std::lock_guard lock(bcc_mutex());
    StdioCapture capture;
    status = impl_->bpf->attach_kprobe(target, std::string(function));
    output = capture.finish();
  }
  if (!status.ok()) {
    std::string detail = first_line(output);
    return make_error(
        fmt::format("BPF: cannot attach kprobe on {} (kernel without "
                    "CONFIG_KPROBES?): {}",
                    kernel_function, detail.empty() ? status.msg() : detail));
  }
  ebpf::BPF* bpf = impl_->bpf.get();
  return impl_->track(fmt::format("kprobe {} <- {}", kernel_function, function), [bpf, target] {
    std::lock_guard lock(bcc_mutex());
    StdioCapture capture;
    bpf->detach_kprobe(target);
  });
}

Result<Attachment> Module::attach_xdp(std::string_view ifname, std::string_view function,
                                      XdpMode mode, const XdpAttachOptions& options) {
  auto program = program_fd(function, ProgramType::xdp);
  if (!program.ok()) return program.error();
  auto fail = [&](const std::string& why) {
    return make_error(fmt::format("BPF: cannot attach XDP program {} to {} ({} mode): {}", function,
                                  ifname, to_string(mode), why));
  };
  auto device = query_xdp_device(ifname);
  if (!device.ok()) return fail(device.error().message);
  // Opened now, in this thread's network namespace: the detach uses it too.
  auto netlink = Rtnetlink::open();
  if (!netlink.ok()) return fail(netlink.error().message);
  UniqueFd expected;  // the program to replace, held open so its id cannot be reused meanwhile
  if (options.replace_program_id != 0) {
    auto old = program_fd_by_id(options.replace_program_id);
    if (!old.ok()) return fail(old.error().message);
    expected = std::move(*old);
  }
  auto set = set_xdp_program(*netlink, device->ifindex, *program, mode,
                             expected.valid() ? expected.get() : -1);
  if (!set.ok()) return fail(set.error().message);
  const int ifindex = device->ifindex;
  const int ours = *program;
  auto socket = std::make_shared<Rtnetlink>(std::move(*netlink));
  return impl_->track(
      fmt::format("xdp {} <- {} ({})", ifname, function, to_string(mode)),
      [socket, ifindex, ours, mode] { set_xdp_program(*socket, ifindex, -1, mode, ours); });
}

Result<Attachment> Module::attach_tc_ingress(std::string_view ifname, std::string_view function,
                                             TcAttachMode mode) {
  auto program = program_fd(function, ProgramType::sched_cls);
  if (!program.ok()) return program.error();
  auto fail = [&](const std::string& why) {
    return make_error(fmt::format("BPF: cannot attach TC program {} to the ingress of {} ({}): {}",
                                  function, ifname, to_string(mode), why));
  };
  const std::string name(ifname);
  const int ifindex = static_cast<int>(::if_nametoindex(name.c_str()));
  if (ifindex == 0) return fail(fmt::format("no such device ({})", std::strerror(errno)));
  std::string tcx_error;
  if (mode != TcAttachMode::clsact) {
    auto link = attach_tcx_ingress(ifindex, *program);
    if (link.ok()) {
      auto owned = std::make_shared<UniqueFd>(std::move(*link));
      return impl_->track(fmt::format("tc ingress {} <- {} (tcx)", ifname, function),
                          [owned] { owned->reset(); });
    }
    if (mode == TcAttachMode::tcx || link.error().sys_errno != EINVAL) {
      return fail(link.error().message);
    }
    tcx_error = link.error().message;
  }
  auto filter = attach_clsact_ingress(ifindex, *program);
  if (!filter.ok()) {
    return fail(filter.error().message +
                (tcx_error.empty() ? "" : "; tcx had failed too: " + tcx_error));
  }
  auto owned = std::make_shared<ClsactFilter>(std::move(*filter));
  return impl_->track(fmt::format("tc ingress {} <- {} (clsact{})", ifname, function,
                                  owned->created_qdisc ? ", qdisc created" : ""),
                      [owned] { detach_clsact_ingress(*owned); });
}

Result<Attachment> Module::attach_to_map(int map_fd, std::string_view function, ProgramType type) {
  auto attach_type = map_attach_type(type);
  if (!attach_type) {
    return make_error(
        fmt::format("BPF: {} programs do not attach to a map ({})", to_string(type), function));
  }
  auto program = program_fd(function, type);
  if (!program.ok()) return program.error();
  // Our own reference to the map, so detaching works even if its owner closed it.
  auto map = std::make_shared<UniqueFd>(::fcntl(map_fd, F_DUPFD_CLOEXEC, 0));
  if (!map->valid()) {
    return make_error(fmt::format("BPF: cannot attach {}: bad map fd {}: {}", function, map_fd,
                                  std::strerror(errno)));
  }
  auto status = impl_->bpf->attach_func(*program, map->get(), *attach_type, 0);
  if (!status.ok()) {
    return make_error(fmt::format("BPF: cannot attach {} to map fd {} as {}: {}", function, map_fd,
                                  to_string(type), std::strerror(errno)));
  }
  ebpf::BPF* bpf = impl_->bpf.get();
  int program_fd = *program;
  return impl_->track(fmt::format("map fd {} {} <- {}", map_fd, to_string(type), function),
                      [bpf, program_fd, map, attach_type] {
                        bpf->detach_func(program_fd, map->get(), *attach_type);
                      });
}

Result<Attachment> Module::attach_to_cgroup(const std::string& cgroup_path,
                                            std::string_view function, ProgramType type) {
  if (type != ProgramType::sock_ops) {
    return make_error(
        fmt::format("BPF: {} programs do not attach to a cgroup ({})", to_string(type), function));
  }
  auto program = program_fd(function, type);
  if (!program.ok()) return program.error();
  UniqueFd cgroup(::open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.valid()) {
    return make_error(fmt::format("BPF: cannot open the cgroup {} to attach {}: {}", cgroup_path,
                                  function, std::strerror(errno)));
  }
  // A bpf_link, not BPF_PROG_ATTACH: the kernel detaches it when its fd
  // closes, so a crash cannot leave the program on the cgroup for good.
  bpf_attr attr{};
  attr.link_create.prog_fd = static_cast<std::uint32_t>(*program);
  attr.link_create.target_fd = static_cast<std::uint32_t>(cgroup.get());
  attr.link_create.attach_type = BPF_CGROUP_SOCK_OPS;
  auto link = std::make_shared<UniqueFd>(
      static_cast<int>(::syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr))));
  if (!link->valid()) {
    const int error = errno;
    return make_error(fmt::format(
        "BPF: cannot attach {} to the cgroup {}: {}{}", function, cgroup_path, std::strerror(error),
        error == EPERM ? " (needs CAP_NET_ADMIN and CAP_BPF, or root)" : ""));
  }
  return impl_->track(fmt::format("cgroup {} {} <- {}", cgroup_path, to_string(type), function),
                      [link] { link->reset(); });
}

std::chrono::milliseconds Module::compile_time() const {
  return impl_->compile_time;
}

const std::string& Module::name() const {
  return impl_->name;
}

}  // namespace sniproxy::bpf
