#include "app/cli.hpp"

#include <cmath>
#include <cstdlib>

namespace sniproxy::app {
namespace {

// `retrans [--interval SEC] [--json]`, everything after the subcommand.
ParsedArgs parse_retrans(const std::vector<std::string>& args) {
  Options o;
  o.command = Options::Command::retrans;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      o.command = Options::Command::help;
      return {o, ""};
    }
    if (a == "--interval") {
      if (i + 1 >= args.size()) return {std::nullopt, "--interval needs a number of seconds"};
      value = args[++i];
    } else if (a.rfind("--interval=", 0) == 0) {
      value = a.substr(11);
    } else {
      return {std::nullopt, "retrans: unknown option '" + a + "'"};
    }
    char* end = nullptr;
    double seconds = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(seconds) || seconds < 0.1 ||
        seconds > 3600) {
      return {std::nullopt, "--interval: '" + value + "' is not a number of seconds in 0.1..3600"};
    }
    o.interval_s = seconds;
  }
  return {o, ""};
}

}  // namespace

std::string usage() {
  return "usage: sniproxy -c|--config FILE        run the proxy with the config file FILE\n"
         "       sniproxy --check|-t --config FILE\n"
         "                                        validate FILE and exit: 0 if good, 2 if not\n"
         "                                        (-c names the config file; it is not the\n"
         "                                        check, as it is in haproxy)\n"
         "       sniproxy --probe [--json]        print what this kernel supports\n"
         "       sniproxy retrans [--interval SEC] [--json]\n"
         "                                        live TCP retransmits on this host with the\n"
         "                                        owning process (needs CAP_BPF+CAP_PERFMON);\n"
         "                                        --interval: a table per process and remote\n"
         "                                        address every SEC seconds\n"
         "       sniproxy --version | --help\n"
         "\n"
         "--json applies only to --probe and retrans.\n"
         "\n"
         "Signals: SIGHUP reloads the config (validated first; a bad file keeps the old one),\n"
         "SIGUSR1 reopens the access log file (after logrotate moved it),\n"
         "SIGTERM/SIGINT stop accepting and drain for [timeouts] shutdown.\n";
}

ParsedArgs parse_args(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "retrans") return parse_retrans(args);
  Options o;
  bool check = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) {
        // haproxy's -c is its check: say what ours is.
        if (a == "-c")
          return {std::nullopt,
                  "-c needs a file name (-c is --config; to check a file: "
                  "--check --config FILE)"};
        return {std::nullopt, a + " needs a file name"};
      }
      o.config_path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      o.config_path = a.substr(9);
    } else if (a == "--check" || a == "-t") {
      check = true;
    } else if (a == "--version" || a == "-V") {
      o.command = Options::Command::version;
      return {o, ""};
    } else if (a == "--help" || a == "-h") {
      o.command = Options::Command::help;
      return {o, ""};
    } else if (a == "--probe") {
      o.command = Options::Command::probe;
    } else if (a == "--json") {
      o.json = true;
    } else {
      return {std::nullopt, "unknown option '" + a + "'"};
    }
  }
  if (o.command == Options::Command::probe) return {o, ""};
  // Running or checking prints no report that JSON could shape; accepting
  // the flag would only suggest it did something.
  if (o.json)
    return {std::nullopt, std::string("--json applies only to --probe and retrans, not to ") +
                              (check ? "--check" : "running the proxy")};
  if (check) o.command = Options::Command::check;
  if (o.config_path.empty()) return {std::nullopt, "--config FILE is required"};
  return {o, ""};
}

}  // namespace sniproxy::app
