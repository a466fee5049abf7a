#include <bcc/libbpf.h>
#include <linux/bpf.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "bpf/loader/feature_probe.hpp"
#include "bpf/loader/loader.hpp"
#include "common/unique_fd.hpp"
#include "shared_types.h"
#include "support/test_support.hpp"

namespace sniproxy::bpf {
namespace {

using namespace std::chrono_literals;

// Four small programs: a counter and a perf-buffer emitter for tracepoints,
// a stream parser and verdict for a sockhash.
constexpr const char* kTestProgram = R"(#include "shared_types.h"
BPF_ARRAY(counts, __u64, 1);
BPF_PERF_OUTPUT(events);

int count_state(void *ctx) {
  __u32 slot = 0;
  __u64 *count = counts.lookup(&slot);
  if (count) __sync_fetch_and_add(count, 1);
  return 0;
}

int emit_event(void *ctx) {
  struct sniproxy_probe_event event = {};
  event.pid = bpf_get_current_pid_tgid() >> 32;
  event.kind = SNIPROXY_PROBE_KIND_TRACEPOINT;
  event.value = 42;
  events.perf_submit(ctx, &event, sizeof(event));
  return 0;
}

int parser(struct __sk_buff *skb) { return skb->len; }

int verdict(struct __sk_buff *skb) { return skb->len == 0 ? SK_DROP : SK_PASS; }
)";

ProgramSet test_set() {
  return ProgramSet{"loader_test", {}, {}, {{"test.bpf.c", kTestProgram}}};
}

std::uint64_t read_counter(int map_fd) {
  std::uint32_t slot = 0;
  std::uint64_t value = 0;
  EXPECT_EQ(bpf_lookup_elem(map_fd, &slot, &value), 0);
  return value;
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_ROOT();
    auto loaded = Module::load(test_set());
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    module_ = std::move(*loaded);
  }
  std::unique_ptr<Module> module_;
};

TEST_F(LoaderTest, MapFdByNameSupportsUpdateAndLookup) {
  auto counts = module_->map_fd("counts");
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  std::uint32_t slot = 0;
  std::uint64_t value = 12345;
  ASSERT_EQ(bpf_update_elem(*counts, &slot, &value, BPF_ANY), 0);
  EXPECT_EQ(read_counter(*counts), 12345u);
  auto missing = module_->map_fd("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "BPF: no map nope in module loader_test");
}

TEST_F(LoaderTest, ProgramFdIsCachedAndMissingFunctionIsNamed) {
  auto first = module_->program_fd("parser", ProgramType::sk_skb_stream_parser);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto again = module_->program_fd("parser", ProgramType::sk_skb_stream_parser);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
  auto wrong_type = module_->program_fd("parser", ProgramType::xdp);
  EXPECT_FALSE(wrong_type.ok());
  auto missing = module_->program_fd("no_such_function", ProgramType::tracepoint);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "BPF: no function no_such_function in module loader_test");
}

TEST_F(LoaderTest, TracepointFiresAndStopsAfterDetach) {
  auto counts = module_->map_fd("counts");
  ASSERT_TRUE(counts.ok());
  {
    auto attached = module_->attach_tracepoint("sock:inet_sock_set_state", "count_state");
    ASSERT_TRUE(attached.ok()) << attached.error().message;
    EXPECT_TRUE(attached->attached());
    EXPECT_EQ(attached->description(), "tracepoint sock:inet_sock_set_state <- count_state");
    testing::make_loopback_connection();
    EXPECT_GE(read_counter(*counts), 3u);  // SYN_SENT, ESTABLISHED, ... for each side
  }
  // The Attachment died: the program no longer runs.
  std::uint64_t after_detach = read_counter(*counts);
  testing::make_loopback_connection();
  EXPECT_EQ(read_counter(*counts), after_detach);
}

TEST_F(LoaderTest, ExplicitDetachAndModuleDeathDetach) {
  auto counts = module_->map_fd("counts");
  ASSERT_TRUE(counts.ok());
  auto attached = module_->attach_tracepoint("sock:inet_sock_set_state", "count_state");
  ASSERT_TRUE(attached.ok()) << attached.error().message;
  attached->detach();
  EXPECT_FALSE(attached->attached());
  testing::make_loopback_connection();
  EXPECT_EQ(read_counter(*counts), 0u);

  auto outliving = module_->attach_tracepoint("sock:inet_sock_set_state", "count_state");
  ASSERT_TRUE(outliving.ok());
  module_.reset();  // detaches what is still attached
  EXPECT_FALSE(outliving->attached());
}

TEST_F(LoaderTest, UnknownTracepointIsNamed) {
  auto attached = module_->attach_tracepoint("sock:no_such_event", "count_state");
  ASSERT_FALSE(attached.ok());
  EXPECT_EQ(
      attached.error().message.rfind("BPF: the kernel has no tracepoint sock:no_such_event", 0), 0u)
      << attached.error().message;
}

TEST_F(LoaderTest, PerfBufferDeliversEventsAndPollOnceDoesNotBlock) {
  std::vector<sniproxy_probe_event> mine;
  auto reader = module_->open_perf_buffer(
      "events",
      [&](std::span<const std::byte> bytes) {
        ASSERT_GE(bytes.size(), sizeof(sniproxy_probe_event));
        sniproxy_probe_event event;
        std::memcpy(&event, bytes.data(), sizeof event);
        if (event.pid == static_cast<std::uint32_t>(::getpid())) mine.push_back(event);
      },
      [](std::uint64_t) {});
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  EXPECT_GE(reader->cpu_count(), 1u);

  auto start = std::chrono::steady_clock::now();
  auto nothing = reader->poll_once();
  ASSERT_TRUE(nothing.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 50ms);

  auto attached = module_->attach_tracepoint("sock:inet_sock_set_state", "emit_event");
  ASSERT_TRUE(attached.ok()) << attached.error().message;
  testing::make_loopback_connection();
  pollfd ready{reader->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&ready, 1, 2000), 1);
  for (int round = 0; round < 20 && mine.empty(); ++round) {
    auto delivered = reader->poll_once(100ms);
    ASSERT_TRUE(delivered.ok()) << delivered.error().message;
  }
  ASSERT_FALSE(mine.empty());
  EXPECT_EQ(mine.front().kind, static_cast<std::uint32_t>(SNIPROXY_PROBE_KIND_TRACEPOINT));
  EXPECT_EQ(mine.front().value, 42u);

  auto not_perf = module_->open_perf_buffer("counts", nullptr, nullptr);
  ASSERT_FALSE(not_perf.ok());
  EXPECT_EQ(not_perf.error().message, "BPF: map counts is not a perf buffer (BPF_PERF_OUTPUT)");
}

// How many programs are attached to `map_fd` as `type` (BPF_PROG_QUERY).
int attached_count(int map_fd, bpf_attach_type type) {
  bpf_attr attr{};
  attr.query.target_fd = static_cast<std::uint32_t>(map_fd);
  attr.query.attach_type = type;
  if (::syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof attr) != 0) return -1;
  return static_cast<int>(attr.query.prog_cnt);
}

TEST_F(LoaderTest, SkSkbProgramsAttachToASockhashAndDetach) {
  UniqueFd sockhash(bcc_create_map(BPF_MAP_TYPE_SOCKHASH, "test_sockhash", 8, 4, 16, 0));
  ASSERT_TRUE(sockhash.valid()) << std::strerror(errno);
  {
    auto parser =
        module_->attach_to_map(sockhash.get(), "parser", ProgramType::sk_skb_stream_parser);
    ASSERT_TRUE(parser.ok()) << parser.error().message;
    auto verdict =
        module_->attach_to_map(sockhash.get(), "verdict", ProgramType::sk_skb_stream_verdict);
    ASSERT_TRUE(verdict.ok()) << verdict.error().message;
    EXPECT_EQ(attached_count(sockhash.get(), BPF_SK_SKB_STREAM_PARSER), 1);
    EXPECT_EQ(attached_count(sockhash.get(), BPF_SK_SKB_STREAM_VERDICT), 1);
  }
  EXPECT_EQ(attached_count(sockhash.get(), BPF_SK_SKB_STREAM_PARSER), 0);
  EXPECT_EQ(attached_count(sockhash.get(), BPF_SK_SKB_STREAM_VERDICT), 0);
  auto wrong = module_->attach_to_map(sockhash.get(), "count_state", ProgramType::tracepoint);
  EXPECT_FALSE(wrong.ok());
}

TEST(LoaderXdp, AttachesGenericOnLoopbackOfAPrivateNetnsAndDetaches) {
  SKIP_UNLESS_ROOT();
  auto loaded = Module::load(ProgramSet{"xdp_test", {"probe.bpf.c"}, {}, {}});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  std::string failure;
  // A thread of our own in a new network namespace, so no other test's lo sees XDP.
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      failure = std::string("unshare: ") + std::strerror(errno);
      return;
    }
    auto attached = (*loaded)->attach_xdp("lo", "probe_xdp", XdpMode::generic);
    if (!attached.ok()) {
      failure = attached.error().message;
      return;
    }
    if (std::system("ip link show lo | grep -q xdpgeneric") != 0) failure = "not attached";
    attached->detach();
    if (std::system("ip link show lo | grep -q xdp") == 0) failure = "still attached";
  });
  worker.join();
  EXPECT_EQ(failure, "");
}

TEST(LoaderErrors, MissingHeaderTreeIsOneClearLine) {
  auto empty =
      std::filesystem::temp_directory_path() / ("bpf-no-headers-" + std::to_string(::getpid()));
  std::filesystem::create_directories(empty);
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  auto loaded = Module::load(test_set(), LoadOptions{empty.string()});
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  std::filesystem::remove(empty);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message,
            "BPF: no kernel header tree at " + empty.string() +
                " (install linux-headers-$(uname -r), or run scripts/install-deps.sh)");
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "");
}

TEST(LoaderErrors, CompileErrorIsTheFirstErrorLineWithFileAndLine) {
  SKIP_UNLESS_ROOT();
  ProgramSet bad{
      "bad",
      {},
      {},
      {{"bad.bpf.c",
        "#include \"shared_types.h\"\n\nint f(void *ctx) {\n  return undeclared_thing;\n}\n"}}};
  ::testing::internal::CaptureStderr();
  auto loaded = Module::load(bad);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message,
            "BPF: cannot compile bad: bad.bpf.c:4:10: error: use of undeclared identifier "
            "'undeclared_thing'");
  EXPECT_EQ(err, "");
}

TEST(LoaderErrors, VerifierRejectionNamesTheProblem) {
  SKIP_UNLESS_ROOT();
  ProgramSet unsafe{"unsafe", {}, {}, {{"unsafe.bpf.c", R"(BPF_HASH(counts, u32, u64, 1);
int unchecked(void *ctx) {
  u32 slot = 0;
  u64 *count = counts.lookup(&slot);
  return *count;  /* no NULL check: the verifier refuses */
}
)"}}};
  auto loaded = Module::load(unsafe);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ::testing::internal::CaptureStderr();
  auto fd = (*loaded)->program_fd("unchecked", ProgramType::tracepoint);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(fd.ok());
  const std::string& message = fd.error().message;
  EXPECT_EQ(message.rfind("BPF: verifier rejected unchecked (", 0), 0u) << message;
  EXPECT_NE(message.find("map_value_or_null"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(err, "");
}

TEST(LoaderErrors, UnprivilegedLoadSaysWhichCapabilities) {
  SKIP_UNLESS_ROOT();
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    std::string message = "setresuid failed";
    if (::setresgid(65534, 65534, 65534) == 0 && ::setresuid(65534, 65534, 65534) == 0) {
      auto loaded = Module::load(test_set());
      message = loaded.ok() ? "loaded" : loaded.error().message;
    }
    ::write(pipe_fds[1], message.data(), message.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string message;
  char buffer[512];
  ssize_t got;
  while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) message.append(buffer, got);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(message,
            "BPF: permission denied loading loader_test: needs CAP_BPF and CAP_PERFMON (or "
            "CAP_SYS_ADMIN) — run as root or grant them");
}

TEST(LoaderMeasure, FourProgramModuleCompileAndLoadTime) {
  SKIP_UNLESS_ROOT();
  long rss_before = resident_set_kib();
  auto start = std::chrono::steady_clock::now();
  auto loaded = Module::load(test_set());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  for (auto [name, type] : {std::pair{"count_state", ProgramType::tracepoint},
                            std::pair{"emit_event", ProgramType::tracepoint},
                            std::pair{"parser", ProgramType::sk_skb_stream_parser},
                            std::pair{"verdict", ProgramType::sk_skb_stream_verdict}}) {
    ASSERT_TRUE((*loaded)->program_fd(name, type).ok());
  }
  auto total = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  long rss_after = resident_set_kib();
  std::printf("four-program module: compile %lld ms, compile+load %lld ms, RSS %ld -> %ld KiB\n",
              static_cast<long long>((*loaded)->compile_time().count()),
              static_cast<long long>(total.count()), rss_before, rss_after);
  RecordProperty("compile_ms", static_cast<int>((*loaded)->compile_time().count()));
  RecordProperty("compile_load_ms", static_cast<int>(total.count()));
  EXPECT_LT(total, 60s);
}

}  // namespace
}  // namespace sniproxy::bpf
