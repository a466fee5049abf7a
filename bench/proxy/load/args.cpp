#include "args.hpp"

#include <cerrno>
#include <cstdlib>

#include "fail.hpp"

namespace proxy_load {

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; i += 2) {
    const std::string name = argv[i];
    if (name.rfind("--", 0) != 0) die("expected an option, got '" + name + "'");
    if (i + 1 >= argc) die("option " + name + " needs a value");
    values_[name.substr(2)] = argv[i + 1];
  }
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
  used_[name] = true;
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::uint64_t Args::number(const std::string& name, std::uint64_t fallback) const {
  used_[name] = true;
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
  if (errno != 0 || end == it->second.c_str() || *end != '\0' || it->second[0] == '-')
    die("--" + name + " needs a non-negative integer, got '" + it->second + "'");
  return v;
}

void Args::reject_unused() const {
  for (const auto& [name, value] : values_)
    if (!used_.contains(name)) die("unknown option --" + name);
}

}  // namespace proxy_load
