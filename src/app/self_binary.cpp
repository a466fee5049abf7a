#include "app/self_binary.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace sniproxy::app {

Result<SelfBinary> SelfBinary::at_start() {
  std::array<char, 4096> buffer{};
  const ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n <= 0) return make_error(fmt::format("readlink /proc/self/exe: {}", std::strerror(errno)));
  return of(std::string(buffer.data(), static_cast<std::size_t>(n)));
}

SelfBinary SelfBinary::of(std::string path) {
  SelfBinary self(std::move(path));
  self.note();
  return self;
}

bool SelfBinary::replaced() const {
  struct stat now {};
  if (::stat(path_.c_str(), &now) != 0) return true;  // removed or moved: not what ran
  return now.st_ino != noted_.st_ino || now.st_dev != noted_.st_dev ||
         now.st_size != noted_.st_size || now.st_mtim.tv_sec != noted_.st_mtim.tv_sec ||
         now.st_mtim.tv_nsec != noted_.st_mtim.tv_nsec;
}

void SelfBinary::note() {
  if (::stat(path_.c_str(), &noted_) != 0) noted_ = {};
}

}  // namespace sniproxy::app
