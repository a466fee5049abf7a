#include <gtest/gtest.h>

#include "bpf/loader/feature_probe.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SNIPROXY_HAS_ASAN 1
#endif
#endif
#ifndef SNIPROXY_HAS_ASAN
#define SNIPROXY_HAS_ASAN 0
#endif
#include "support/test_support.hpp"

namespace sniproxy::bpf {
namespace {

const FeatureProbe& probe_once() {
  static const FeatureProbe probe = run_feature_probe();
  return probe;
}

TEST(FeatureProbe, MatchesWhatThisKernelCanDo) {
  SKIP_UNLESS_ROOT();
  const FeatureProbe& probe = probe_once();
  std::printf("%s", format_table(probe).c_str());
  EXPECT_FALSE(probe.kernel_release.empty());
  ASSERT_TRUE(probe.header_tree.found);
  EXPECT_FALSE(probe.header_tree.version.empty());
  ASSERT_TRUE(probe.bpf_usable) << probe.bpf_error;
  EXPECT_TRUE(probe.sk_skb_stream_parser);
  EXPECT_TRUE(probe.sk_skb_stream_verdict);
  EXPECT_TRUE(probe.sk_msg);
  EXPECT_TRUE(probe.sock_ops);
  EXPECT_TRUE(probe.xdp);
  EXPECT_TRUE(probe.tc_fast_path);
  EXPECT_TRUE(probe.tracepoint);
  EXPECT_TRUE(probe.tracepoint_attach);
  EXPECT_FALSE(probe.kprobe);  // CONFIG_KPROBES is off on this project's kernels
  EXPECT_FALSE(probe.kprobe_error.empty());
  EXPECT_EQ(probe.kprobe_error.find('\n'), std::string::npos);
  EXPECT_TRUE(probe.sockmap);
  EXPECT_TRUE(probe.sockhash);
  EXPECT_TRUE(probe.btf);
  EXPECT_FALSE(probe.cgroup2_path.empty()) << probe.cgroup2_error;
  EXPECT_TRUE(probe.tracefs);
  ASSERT_EQ(probe.tracepoints.size(), 3u);
  for (const TracepointPresence& tracepoint : probe.tracepoints) {
    EXPECT_TRUE(tracepoint.exists) << tracepoint.name;
  }
  EXPECT_TRUE(probe.io_uring.available) << probe.io_uring.error;
  EXPECT_TRUE(probe.io_uring.splice);
  EXPECT_TRUE(probe.io_uring.accept);
  EXPECT_TRUE(probe.io_uring.multishot_accept);
  EXPECT_TRUE(probe.io_uring.provided_buffer_ring);
  EXPECT_TRUE(probe.io_uring.send_zc);
  EXPECT_GT(probe.bpf_compile_time.count(), 0);
  EXPECT_GT(probe.rss_before_kib, 0);
  EXPECT_GT(probe.rss_after_kib, 0);
#if !defined(__SANITIZE_ADDRESS__) && !SNIPROXY_HAS_ASAN
  // The compile only adds memory; under ASan the allocator hands freed
  // memory (its quarantine) back to the kernel meanwhile, so RSS can shrink.
  EXPECT_GE(probe.rss_after_kib, probe.rss_before_kib);
#endif
  RecordProperty("probe_compile_ms", static_cast<int>(probe.bpf_compile_time.count()));
  RecordProperty("probe_load_ms", static_cast<int>(probe.bpf_load_time.count()));
}

TEST(FeatureProbe, JsonIsOneBalancedObjectWithTheKeys) {
  SKIP_UNLESS_ROOT();
  std::string json = format_json(probe_once());
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.substr(json.size() - 2), "}\n");
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      --depth;
      EXPECT_GE(depth, 0);
    }
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(in_string);
  for (const char* key :
       {"\"kernel\": \"", "\"sk_skb_parser\": true", "\"kprobe\": false", "\"sockhash\": true",
        "\"sock_ops\": true", "\"btf\": true", "\"cgroup2\": true", "\"cgroup2_path\": \"/",
        "\"uring_splice\": true", "\"bpf_compile_ms\": ", "\"tp_tcp_retransmit_skb\": true",
        "\"tp_inet_sock_set_state\": true", "\"headers_version\": \""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
  }
}

TEST(FeatureProbe, LogLineIsOneLineOfKeyValues) {
  SKIP_UNLESS_ROOT();
  std::string line = format_line(probe_once());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("kernel="), std::string::npos);
  EXPECT_NE(line.find(" sockhash=yes"), std::string::npos);
  EXPECT_NE(line.find(" kprobe=no"), std::string::npos);
  EXPECT_EQ(line.find("bpf_error="), std::string::npos);  // empty text fields are left out
  std::string table = format_table(probe_once());
  EXPECT_EQ(table.rfind("feature", 0), 0u);
  EXPECT_NE(table.find("uring_send_zc"), std::string::npos);
}

TEST(FeatureProbe, WithoutHeadersBpfIsUnusableButTheRestIsProbed) {
  SKIP_UNLESS_ROOT();
  ProbeOptions options;
  options.load.kernel_source = "/nonexistent-header-tree";
  FeatureProbe probe = run_feature_probe(options);
  EXPECT_FALSE(probe.header_tree.found);
  EXPECT_FALSE(probe.bpf_usable);
  EXPECT_EQ(probe.bpf_error.rfind("BPF: no kernel header tree at /nonexistent-header-tree", 0), 0u);
  EXPECT_TRUE(probe.sockhash);
  EXPECT_TRUE(probe.io_uring.available);
}

TEST(KernelVersion, ParsesMajorMinor) {
  EXPECT_EQ(reactor::kernel_version_of("6.18.44-fc-v657"), (std::pair{6, 18}));
  EXPECT_EQ(reactor::kernel_version_of("5.4"), (std::pair{5, 4}));
  EXPECT_EQ(reactor::kernel_version_of("garbage"), (std::pair{0, 0}));
}

}  // namespace
}  // namespace sniproxy::bpf
