#pragma once
// A fresh directory per test, removed with everything in it afterwards.
#include <filesystem>
#include <string>
#include <string_view>

namespace sniproxy::integration {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path file(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, std::string_view text);
// The whole file, or "" when it does not exist (yet).
std::string read_file(const std::filesystem::path& path);

}  // namespace sniproxy::integration
