#pragma once
// The binary the master starts its workers from. Its path is read once, at
// start: after a package upgrade /proc/self/exe names the replaced (deleted)
// file, while the path names the new one. What the file was at the last
// start tells a SIGHUP that an upgrade replaced it.
#include <sys/stat.h>

#include <string>

#include "common/result.hpp"

namespace sniproxy::app {

class SelfBinary {
 public:
  static Result<SelfBinary> at_start();
  // The file at `path`, noted now (tests).
  static SelfBinary of(std::string path);

  [[nodiscard]] const std::string& path() const { return path_; }
  // The file at path() is not the one last noted (a new inode, size or
  // modification time): an upgrade replaced it.
  [[nodiscard]] bool replaced() const;
  // Notes the file at path() now (a generation was started from it).
  void note();

 private:
  explicit SelfBinary(std::string path) : path_(std::move(path)) {}
  std::string path_;
  struct stat noted_ {};
};

}  // namespace sniproxy::app
