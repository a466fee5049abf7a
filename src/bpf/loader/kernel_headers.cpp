#include "bpf/loader/kernel_headers.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace sniproxy::bpf {
namespace {

constexpr const char* kKheadersArchive = "/sys/kernel/kheaders.tar.xz";

bool is_dir(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool is_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

// UTS_RELEASE from include/generated/utsrelease.h of the first tree that has it.
std::string tree_version(const std::string& first, const std::string& second) {
  for (const std::string& root : {first, second}) {
    std::ifstream file(root + "/include/generated/utsrelease.h");
    std::string line;
    while (std::getline(file, line)) {
      std::size_t open = line.find('"');
      std::size_t close = line.rfind('"');
      if (line.find("UTS_RELEASE") != std::string::npos && open != close) {
        return line.substr(open + 1, close - open - 1);
      }
    }
  }
  std::error_code error;
  auto resolved = std::filesystem::canonical(first, error);
  return error ? std::string() : resolved.filename().string();
}

}  // namespace

std::string running_kernel_release() {
  struct utsname name {};
  if (::uname(&name) != 0) return "unknown";
  return name.release;
}

HeaderTree find_header_tree(const std::optional<std::string>& override_path) {
  HeaderTree tree;
  const char* from_env = std::getenv("BCC_KERNEL_SOURCE");
  if (override_path || from_env) {
    tree.path = override_path ? *override_path : std::string(from_env);
    tree.shown_path = tree.path;
    tree.found = is_file(tree.path + "/include/linux/kconfig.h");
    if (tree.found) tree.version = tree_version(tree.path, tree.path);
    return tree;  // an explicit tree is never silently replaced by kheaders
  }
  std::string modules_dir = "/lib/modules/" + running_kernel_release();
  std::string build = modules_dir + "/build";
  // Split header packages (Debian) keep generated headers in build/ and the
  // rest in source/; BCC then compiles in source/.
  tree.path = is_dir(build) && is_dir(modules_dir + "/source") ? modules_dir + "/source" : build;
  tree.shown_path = build;
  tree.found = is_file(tree.path + "/include/linux/kconfig.h");
  if (tree.found) {
    tree.version = tree_version(build, tree.path);
  } else if (is_file(kKheadersArchive)) {
    tree.found = true;
    tree.from_kheaders = true;
    tree.path = kKheadersArchive;
    tree.version = running_kernel_release();
  }
  return tree;
}

std::string missing_header_tree_message(const HeaderTree& tree) {
  return fmt::format(
      "BPF: no kernel header tree at {} (install linux-headers-$(uname -r), or run "
      "scripts/install-deps.sh)",
      tree.shown_path);
}

}  // namespace sniproxy::bpf
