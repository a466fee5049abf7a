// scale_load: the client and backend sides of bench/scale/run-100k.sh,
// which holds 100,000 proxied connections to measure the proxy's memory per
// idle connection. Everything stays on 127.0.0.0/8 and every subcommand has
// a hard time limit (--seconds).
//
//   scale_load backend --listen 127.0.0.1:P1,127.0.0.1:P2,...
//   scale_load hold    --to 127.0.0.1:PORT --connections N --sources 2-9 --names 8
//
// See each subcommand's header for its options and output. The latency of a
// new connection while they are held is measured with proxy_load latency.
#include <csignal>

#include <string>

#include "args.hpp"
#include "fail.hpp"
#include "hold_backend.hpp"
#include "hold_clients.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) proxy_load::die("usage: scale_load backend|hold [--option value]...");
  const std::string command = argv[1];
  const proxy_load::Args args(argc, argv, 2);
  if (command == "backend") return scale_load::run_hold_backend(args);
  if (command == "hold") return scale_load::run_hold_clients(args);
  proxy_load::die("unknown subcommand '" + command + "'");
}
