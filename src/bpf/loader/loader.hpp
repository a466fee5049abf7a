#pragma once
// The one interface the rest of the proxy uses to compile, load and attach
// BPF programs. Implemented over BCC's ebpf::BPF (loader_bcc.cpp); nothing
// outside src/bpf/ sees a BCC header, so another loader (libbpf/CO-RE) could
// replace it.
//
// Not thread-safe: one thread owns a Module and its handles. Loading
// serialises with other loads (BCC's output is captured process-wide).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/loader/source_assembly.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

enum class ProgramType {
  sk_skb_stream_parser,
  sk_skb_stream_verdict,
  sk_msg,
  xdp,
  tracepoint,
  kprobe,
  sock_ops,   // on a cgroup (v2): sees the TCP connections of its processes
  sched_cls,  // a TC classifier (clsact or tcx hook of a device)
};
std::string_view to_string(ProgramType type);

enum class XdpMode {
  native,   // in the driver (XDP_FLAGS_DRV_MODE)
  generic,  // on the skb path, works on every device incl. lo (XDP_FLAGS_SKB_MODE)
};

// How attach_tc_ingress hooks a classifier onto a device.
enum class TcAttachMode {
  // tcx when the kernel has it (6.6+), else clsact.
  automatic,
  // A tcx bpf_link (6.6+): no qdisc, and the kernel detaches it when this
  // process exits, even by a crash.
  tcx,
  // A filter on the clsact qdisc (created when missing, 4.5+): stays after
  // a crash until someone deletes it.
  clsact,
};
std::string_view to_string(TcAttachMode mode);

// attach_xdp's choices beyond the mode.
struct XdpAttachOptions {
  // 0 (the default): attach only when no program is attached in that mode;
  // someone else's program is never replaced. Otherwise the id of the one
  // program to replace (the kernel checks atomically that it is still the
  // one attached); the caller decides that it may, e.g. a stale copy of its
  // own program left by a crash.
  std::uint32_t replace_program_id = 0;
};

// What to compile as one BCC module: embedded bpf_c/ files by base name, then
// in-memory sources; local "#include"s are inlined (see source_assembly.hpp).
struct ProgramSet {
  std::string name;                 // for messages: "probe", "sockmap", ...
  std::vector<std::string> files;   // e.g. {"probe.bpf.c"}
  std::vector<std::string> cflags;  // e.g. {"-DMAX_CONNECTIONS=65536"}
  std::vector<SourceText> sources;  // in-memory programs (tests, generated code)
};

struct LoadOptions {
  // Kernel header tree to compile against. Default: $BCC_KERNEL_SOURCE, else
  // /lib/modules/$(uname -r)/{build,source} as BCC picks them.
  std::optional<std::string> kernel_source;
};

namespace detail {
struct AttachmentState;
}

// One attached program (tracepoint, kprobe, XDP on a device, sk_skb/sk_msg
// on a map). Move-only; detaches when destroyed or on detach(). When its
// Module dies first, the Module has already detached it.
class Attachment {
 public:
  Attachment() = default;
  Attachment(Attachment&& other) noexcept;
  Attachment& operator=(Attachment&& other) noexcept;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  ~Attachment();

  void detach();
  [[nodiscard]] bool attached() const;
  // "tracepoint sock:inet_sock_set_state <- count_state", for logs.
  [[nodiscard]] std::string description() const;

 private:
  friend class Module;
  explicit Attachment(std::shared_ptr<detail::AttachmentState> state);
  std::shared_ptr<detail::AttachmentState> state_;
};

// Owns the per-CPU perf buffers of one BPF_PERF_OUTPUT map. Independent of
// the Module once open (it holds its own reference to the map).
class PerfReader {
 public:
  PerfReader(PerfReader&& other) noexcept;
  PerfReader& operator=(PerfReader&& other) noexcept;
  PerfReader(const PerfReader&) = delete;
  PerfReader& operator=(const PerfReader&) = delete;
  ~PerfReader();

  // An epoll fd that is readable while any CPU's buffer holds events: use it
  // with poll(2) or io_uring POLL_ADD, then call poll_once().
  [[nodiscard]] int fd() const;
  // Delivers the events ready now (waiting at most `timeout`; 0 never
  // blocks) to the callbacks; returns how many events it delivered.
  Result<std::size_t> poll_once(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  [[nodiscard]] std::size_t cpu_count() const;

  struct State;

 private:
  friend class Module;
  explicit PerfReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One compiled BPF module. The destructor detaches every attachment still
// live, closes the program and map fds and frees BCC's state.
class Module {
 public:
  using EventCallback = std::function<void(std::span<const std::byte> event)>;
  using LostCallback = std::function<void(std::uint64_t lost)>;

  // Compiles the set (one clang run) and creates its maps. Programs are
  // loaded into the kernel lazily by program_fd()/attach_*().
  static Result<std::unique_ptr<Module>> load(const ProgramSet& set,
                                              const LoadOptions& options = {});
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Loads `function` as `type` (once; later calls return the same fd, owned
  // by the Module). Errors: no such function, permission, verifier.
  Result<int> program_fd(std::string_view function_name, ProgramType type);
  // The fd of a map declared in the BPF source (owned by the Module).
  Result<int> map_fd(std::string_view map_name);

  // "category:event", e.g. "sock:inet_sock_set_state". Mounts tracefs if needed.
  Result<Attachment> attach_tracepoint(std::string_view category_event, std::string_view function);
  // Fails on kernels without CONFIG_KPROBES (this project's test machines).
  Result<Attachment> attach_kprobe(std::string_view kernel_function, std::string_view function);
  // Never replaces a program already attached to the device unless
  // `options` names it. Detaching removes the program only while it is still
  // the one attached (it never removes a program that replaced it), and
  // reaches the device in the network namespace it was attached in.
  Result<Attachment> attach_xdp(std::string_view ifname, std::string_view function, XdpMode mode,
                                const XdpAttachOptions& options = {});
  // A sched_cls program on the ingress of device `ifname` (in this thread's
  // network namespace), beside other classifiers there. Detaching removes
  // only what this made: its filter or link, and the clsact qdisc if this
  // created it (with any filter added to it since); it reaches the device in
  // the namespace it was attached in. The description names the mode used.
  Result<Attachment> attach_tc_ingress(std::string_view ifname, std::string_view function,
                                       TcAttachMode mode = TcAttachMode::automatic);
  // sk_skb stream parser/verdict or sk_msg verdict on a sockmap/sockhash fd.
  // Attach before inserting sockets (see docs/kernel.md).
  Result<Attachment> attach_to_map(int map_fd, std::string_view function, ProgramType type);
  // A sock_ops program on the cgroup (v2) directory `cgroup_path`, next to
  // any other programs there: it sees the sockets of every process in that
  // cgroup and its descendants. Attached as a bpf_link, so the kernel
  // detaches it when this process exits, even by a crash.
  Result<Attachment> attach_to_cgroup(const std::string& cgroup_path, std::string_view function,
                                      ProgramType type);

  Result<PerfReader> open_perf_buffer(std::string_view map_name, EventCallback on_event,
                                      LostCallback on_lost, int pages_per_cpu = 8);

  // Wall time of the clang compile plus map creation in load().
  [[nodiscard]] std::chrono::milliseconds compile_time() const;
  [[nodiscard]] const std::string& name() const;

  struct Impl;

 private:
  explicit Module(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sniproxy::bpf
