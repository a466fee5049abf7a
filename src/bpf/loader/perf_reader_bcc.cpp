// PerfReader over libbcc's per-CPU perf_reader, with our own epoll fd so the
// reactor can wait on it (BCC's BPFPerfBuffer keeps its epoll fd private).
#include <bcc/libbpf.h>
#include <bcc/perf_reader.h>
#include <fcntl.h>
#include <sys/epoll.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "bpf/loader/loader.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf {

struct PerfReader::State {
  Module::EventCallback on_event;
  Module::LostCallback on_lost;
  UniqueFd map_fd;
  UniqueFd epoll_fd;
  std::vector<std::pair<int, perf_reader*>> readers;  // (cpu, reader)
  std::size_t delivered = 0;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    for (auto& [cpu, reader] : readers) {
      int key = cpu;
      bpf_delete_elem(map_fd.get(), &key);
      perf_reader_free(reader);  // closes the perf event fd and unmaps the ring
    }
  }
};

namespace {

void deliver_event(void* cookie, void* raw, int size) {
  auto* state = static_cast<PerfReader::State*>(cookie);
  ++state->delivered;
  if (state->on_event && size > 0) {
    state->on_event(std::span<const std::byte>(static_cast<const std::byte*>(raw),
                                               static_cast<std::size_t>(size)));
  }
}

void deliver_lost(void* cookie, std::uint64_t lost) {
  auto* state = static_cast<PerfReader::State*>(cookie);
  if (state->on_lost) state->on_lost(lost);
}

// The number a cpu list entry starts with ("3" of "3-7"); 0 when there is
// none, as a malformed list read before.
int leading_int(std::string_view text) {
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// Parses /sys/devices/system/cpu/online ("0-3,6").
std::vector<int> online_cpus() {
  std::vector<int> cpus;
  std::ifstream file("/sys/devices/system/cpu/online");
  std::string list;
  std::getline(file, list);
  std::size_t start = 0;
  while (start < list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string range = list.substr(start, comma - start);
    std::size_t dash = range.find('-');
    int first = leading_int(range);
    int last =
        dash == std::string::npos ? first : leading_int(std::string_view(range).substr(dash + 1));
    for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
    start = comma + 1;
  }
  return cpus;
}

}  // namespace

PerfReader::PerfReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
PerfReader::PerfReader(PerfReader&& other) noexcept = default;
PerfReader& PerfReader::operator=(PerfReader&& other) noexcept = default;
PerfReader::~PerfReader() = default;

int PerfReader::fd() const {
  return state_ ? state_->epoll_fd.get() : -1;
}

std::size_t PerfReader::cpu_count() const {
  return state_ ? state_->readers.size() : 0;
}

Result<std::size_t> PerfReader::poll_once(std::chrono::milliseconds timeout) {
  if (!state_) return make_error("BPF: perf reader was moved from");
  // A perf event fd's poll clears its wakeup flag, so once anyone polled the
  // epoll fd (poll(2), io_uring POLL_ADD) epoll_wait may report nothing while
  // the rings hold events: read every ring, wait only when all were empty.
  std::size_t before = state_->delivered;
  for (auto& [cpu, reader] : state_->readers) perf_reader_event_read(reader);
  if (state_->delivered != before || timeout.count() <= 0) return state_->delivered - before;
  epoll_event ready[64];
  int count = ::epoll_wait(state_->epoll_fd.get(), ready, 64, static_cast<int>(timeout.count()));
  if (count < 0 && errno != EINTR) {
    return make_error(fmt::format("BPF: epoll_wait on perf buffer: {}", std::strerror(errno)));
  }
  for (auto& [cpu, reader] : state_->readers) perf_reader_event_read(reader);
  return state_->delivered - before;
}

Result<PerfReader> Module::open_perf_buffer(std::string_view map_name, EventCallback on_event,
                                            LostCallback on_lost, int pages_per_cpu) {
  auto map = map_fd(map_name);
  if (!map.ok()) return map.error();
  bpf_map_info info{};
  std::uint32_t info_size = sizeof info;
  if (bpf_obj_get_info(*map, &info, &info_size) == 0 &&
      info.type != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
    return make_error(fmt::format("BPF: map {} is not a perf buffer (BPF_PERF_OUTPUT)", map_name));
  }
  auto state = std::make_unique<PerfReader::State>();
  state->on_event = std::move(on_event);
  state->on_lost = std::move(on_lost);
  state->map_fd = UniqueFd(::fcntl(*map, F_DUPFD_CLOEXEC, 0));
  state->epoll_fd = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!state->map_fd || !state->epoll_fd) {
    return make_error(fmt::format("BPF: perf buffer {}: {}", map_name, std::strerror(errno)));
  }
  for (int cpu : online_cpus()) {
    auto* reader = static_cast<perf_reader*>(
        bpf_open_perf_buffer(deliver_event, deliver_lost, state.get(), -1, cpu, pages_per_cpu));
    if (!reader) {
      return make_error(fmt::format("BPF: cannot open perf buffer {} on CPU {}: {}", map_name, cpu,
                                    std::strerror(errno)));
    }
    state->readers.emplace_back(cpu, reader);
    int reader_fd = perf_reader_fd(reader);
    int key = cpu;
    if (bpf_update_elem(state->map_fd.get(), &key, &reader_fd, 0) != 0) {
      return make_error(fmt::format("BPF: cannot register perf buffer {} for CPU {}: {}", map_name,
                                    cpu, std::strerror(errno)));
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = reader;
    if (::epoll_ctl(state->epoll_fd.get(), EPOLL_CTL_ADD, reader_fd, &event) != 0) {
      return make_error(
          fmt::format("BPF: epoll_ctl on perf buffer {}: {}", map_name, std::strerror(errno)));
    }
  }
  return PerfReader(std::move(state));
}

}  // namespace sniproxy::bpf
