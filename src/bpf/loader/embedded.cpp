#include "bpf/loader/embedded.hpp"

namespace sniproxy::bpf {

std::optional<std::string_view> embedded_source(std::string_view file_name) {
  for (const EmbeddedFile& file : embedded_files()) {
    if (file.name == file_name) return file.text;
  }
  return std::nullopt;
}

}  // namespace sniproxy::bpf
