// proxy_load: load generators and the backend for bench/proxy/run-modes.sh
// (and run-throughput.sh). Standalone, no test framework: the scripts drive
// it and read its one-line `key=value` results. Everything stays on
// 127.0.0.0/8, and every client subcommand has a hard --timeout.
//
//   proxy_load backend --mode count|reply|echo [--reply-bytes 64] [--threads 2]
//   proxy_load bulk    --to ADDR --bytes N --connections 4 --sni NAME
//   proxy_load rate    --to ADDR --connections 10000 --concurrency 32 --sni NAME
//   proxy_load latency --to ADDR --count N --sni NAME
//   proxy_load pingpong --to ADDR --connections 1 --size 64 --messages N --sni NAME
//   proxy_load relay   --to ADDR (the floor of a userspace hop, for pingpong)
//   proxy_load hello   --sni NAME [--alpn LIST] [--secrets-from FILE]
//   proxy_load cpu-snapshot --ours PID [--proxy PID]
//   proxy_load free-port
//
// See each subcommand's header for its options and output.
#include <csignal>
#include <cstdio>
#include <string>

#include "args.hpp"
#include "backend.hpp"
#include "bulk.hpp"
#include "cpu_snapshot.hpp"
#include "fail.hpp"
#include "hello_command.hpp"
#include "latency.hpp"
#include "net.hpp"
#include "pingpong.hpp"
#include "rate.hpp"
#include "relay.hpp"

namespace {

// Prints a port on 127.0.0.1 that is free right now, for generated configs.
int free_port() {
  sockaddr_in address = proxy_load::parse_loopback("127.0.0.1:0");
  proxy_load::UniqueFd fd = proxy_load::listen_on(address, 1);
  std::printf("%u\n", ntohs(address.sin_port));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes early must show up as a send error, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 2)
    proxy_load::die(
        "usage: proxy_load backend|bulk|rate|latency|pingpong|relay|hello|cpu-snapshot|free-port "
        "[--option "
        "value]...");
  const std::string command = argv[1];
  const proxy_load::Args args(argc, argv, 2);
  if (command == "backend") return proxy_load::run_backend(args);
  if (command == "bulk") return proxy_load::run_bulk(args);
  if (command == "rate") return proxy_load::run_rate(args);
  if (command == "latency") return proxy_load::run_latency(args);
  if (command == "pingpong") return proxy_load::run_pingpong(args);
  if (command == "relay") return proxy_load::run_relay(args);
  if (command == "hello") return proxy_load::run_hello(args);
  if (command == "cpu-snapshot") return proxy_load::run_cpu_snapshot(args);
  if (command == "free-port") {
    args.reject_unused();
    return free_port();
  }
  proxy_load::die("unknown command '" + command + "'");
}
