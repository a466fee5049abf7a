#pragma once
// Command-line options of proxy_load: `--name value` pairs after the
// subcommand, looked up by name. Unknown or malformed options end the program
// with a message, so a typo in the driving script fails loudly instead of
// silently measuring the defaults.
#include <cstdint>
#include <map>
#include <string>

namespace proxy_load {

class Args {
 public:
  // Parses argv[first..argc) as `--name value` pairs.
  Args(int argc, char** argv, int first);

  std::string text(const std::string& name, const std::string& fallback) const;
  bool has(const std::string& name) const { return values_.contains(name); }
  std::uint64_t number(const std::string& name, std::uint64_t fallback) const;
  // Dies if an option was given that no accessor has asked about.
  void reject_unused() const;

 private:
  std::map<std::string, std::string> values_;
  mutable std::map<std::string, bool> used_;
};

}  // namespace proxy_load
