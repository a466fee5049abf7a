// The three renderings of a FeatureProbe share one ordered field list, so the
// log line, the table and the JSON never disagree.
#include <fmt/format.h>

#include <cstdio>

#include "bpf/loader/feature_probe.hpp"
#include "common/json.hpp"
#include "common/log.hpp"

namespace sniproxy::bpf {
namespace {

enum class Kind { boolean, number, text };

struct Field {
  std::string key;
  std::string value;
  Kind kind;
};

Field flag(std::string key, bool value) {
  return {std::move(key), value ? "yes" : "no", Kind::boolean};
}
Field number(std::string key, long long value) {
  return {std::move(key), std::to_string(value), Kind::number};
}
Field text(std::string key, std::string value) {
  return {std::move(key), std::move(value), Kind::text};
}

std::string tracepoint_key(const std::string& name) {
  // "tcp:tcp_retransmit_skb" -> "tp_tcp_retransmit_skb" (event names are unique here).
  return "tp_" + name.substr(name.find(':') + 1);
}

std::vector<Field> fields_of(const FeatureProbe& probe) {
  const HeaderTree& tree = probe.header_tree;
  std::vector<Field> fields = {
      text("kernel", probe.kernel_release),
      flag("headers", tree.found),
      text("headers_path", tree.from_kheaders ? tree.path : tree.shown_path),
      text("headers_version", tree.version),
      flag("bpf", probe.bpf_usable),
      text("bpf_error", probe.bpf_error),
      flag("sk_skb_parser", probe.sk_skb_stream_parser),
      flag("sk_skb_verdict", probe.sk_skb_stream_verdict),
      flag("sk_msg", probe.sk_msg),
      flag("sock_ops", probe.sock_ops),
      flag("xdp", probe.xdp),
      flag("tc_fast_path", probe.tc_fast_path),
      flag("tracepoint", probe.tracepoint),
      flag("tracepoint_attach", probe.tracepoint_attach),
      flag("kprobe", probe.kprobe),
      text("kprobe_error", probe.kprobe_error),
      flag("sockmap", probe.sockmap),
      flag("sockhash", probe.sockhash),
      flag("btf", probe.btf),
      flag("cgroup2", !probe.cgroup2_path.empty()),
      text("cgroup2_path", probe.cgroup2_path),
      text("cgroup2_error", probe.cgroup2_error),
      flag("tracefs", probe.tracefs),
      text("tracefs_path", probe.tracefs_path),
      flag("tracefs_mounted_by_probe", probe.tracefs_mounted_by_probe),
      text("tracefs_error", probe.tracefs_error),
  };
  for (const TracepointPresence& tracepoint : probe.tracepoints) {
    fields.push_back(flag(tracepoint_key(tracepoint.name), tracepoint.exists));
  }
  const reactor::IoUringFeatures& uring = probe.io_uring;
  std::vector<Field> rest = {
      flag("io_uring", uring.available),
      text("io_uring_error", uring.error),
      flag("uring_splice", uring.splice),
      flag("uring_accept", uring.accept),
      flag("uring_multishot_accept", uring.multishot_accept),
      flag("uring_buf_ring", uring.provided_buffer_ring),
      flag("uring_send_zc", uring.send_zc),
      number("bpf_compile_ms", probe.bpf_compile_time.count()),
      number("bpf_load_ms", probe.bpf_load_time.count()),
      number("rss_before_kib", probe.rss_before_kib),
      number("rss_after_kib", probe.rss_after_kib),
  };
  fields.insert(fields.end(), rest.begin(), rest.end());
  return fields;
}

}  // namespace

std::string format_line(const FeatureProbe& probe) {
  std::string line;
  for (const Field& field : fields_of(probe)) {
    if (field.kind == Kind::text && field.value.empty()) continue;  // no "bpf_error=" noise
    if (!line.empty()) line += ' ';
    line += field.key + "=" + (field.kind == Kind::text ? log::quote(field.value) : field.value);
  }
  return line;
}

std::string format_table(const FeatureProbe& probe) {
  auto fields = fields_of(probe);
  std::size_t width = 0;
  for (const Field& field : fields) width = std::max(width, field.key.size());
  std::string table = fmt::format("{:<{}}  {}\n", "feature", width, "value");
  for (const Field& field : fields) {
    table += fmt::format("{:<{}}  {}\n", field.key, width, field.value.empty() ? "-" : field.value);
  }
  return table;
}

std::string format_json(const FeatureProbe& probe) {
  std::string json = "{";
  bool first = true;
  for (const Field& field : fields_of(probe)) {
    json += first ? "\n  " : ",\n  ";
    first = false;
    json += json_string(field.key) + ": ";
    switch (field.kind) {
      case Kind::boolean:
        json += field.value == "yes" ? "true" : "false";
        break;
      case Kind::number:
        json += field.value;
        break;
      case Kind::text:
        json += json_string(field.value);
        break;
    }
  }
  return json + "\n}\n";
}

int run_probe_command(bool json) {
  FeatureProbe probe = run_feature_probe();
  std::string out = json ? format_json(probe) : format_table(probe);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!probe.bpf_usable) {
    std::fprintf(stderr, "%s\n", probe.bpf_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace sniproxy::bpf
