#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/master.hpp"
#include "app/retrans_command.hpp"
#include "app/supervisor.hpp"
#include "app/worker_launch.hpp"
#include "bpf/loader/feature_probe.hpp"
#include "config/loader.hpp"

int main(int argc, char** argv) {
  using sniproxy::app::Options;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = sniproxy::app::parse_args(args);
  if (!parsed.options) {
    fmt::print(stderr, "sniproxy: {}\n{}", parsed.error, sniproxy::app::usage());
    return 2;
  }
  const Options& o = *parsed.options;
  switch (o.command) {
    case Options::Command::version:
      fmt::print("sniproxy {}\n", SNIPROXY_VERSION);
      return 0;
    case Options::Command::help:
      fmt::print("{}", sniproxy::app::usage());
      return 0;
    case Options::Command::probe:
      return sniproxy::bpf::run_probe_command(o.json);
    case Options::Command::retrans:
      return sniproxy::app::run_retrans_command({o.interval_s, o.json});
    case Options::Command::check: {
      auto r = sniproxy::config::load_file(o.config_path);
      for (const auto& d : r.errors) fmt::print(stderr, "{}\n", d.to_string());
      if (!r.config) return 2;
      fmt::print("{}: ok\n", o.config_path);
      return 0;
    }
    case Options::Command::run: {
      // A worker started by a master runs the proxy itself; so does a
      // config that cannot be read (run_proxy reports why).
      if (std::getenv(sniproxy::app::kMasterPidVariable) == nullptr) {
        auto r = sniproxy::config::load_file(o.config_path);
        if (r.config && r.config->process.master) return sniproxy::app::run_master(o.config_path);
      }
      return sniproxy::app::run_proxy(o.config_path);
    }
  }
  return 2;
}
