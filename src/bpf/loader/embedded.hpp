#pragma once
// The BPF C sources of bpf_c/, compiled into the binary by embed_sources.py so
// the proxy needs no files on disk to load its programs.
#include <optional>
#include <span>
#include <string_view>

namespace sniproxy::bpf {

struct EmbeddedFile {
  std::string_view name;  // base name, e.g. "probe.bpf.c"
  std::string_view text;
};

// Every embedded file, sorted by name (generated code).
std::span<const EmbeddedFile> embedded_files();
// The text of one embedded file, by base name.
std::optional<std::string_view> embedded_source(std::string_view file_name);

}  // namespace sniproxy::bpf
