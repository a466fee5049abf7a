#pragma once
// Builds the one translation unit BCC compiles (BCC compiles from a string and
// cannot see bpf_c/ on disk). Local includes, `#include "name.h"`, are resolved
// against the embedded files and inlined once each; `#include <...>` stays for
// BCC's own headers. `#line` markers keep compiler diagnostics pointing at the
// original file:line.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace sniproxy::bpf {

// A BPF C file held in memory (tests, or programs generated at run time).
struct SourceText {
  std::string name;
  std::string text;
};

using SourceLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

// `files` are looked up by name (embedded_source by default), then `extra`
// sources follow in order. Fails naming the file when a file or a local
// include cannot be found, or includes nest deeper than 16.
Result<std::string> assemble_source(const std::vector<std::string>& files,
                                    const std::vector<SourceText>& extra,
                                    const SourceLookup& lookup = {});

// The header name of a `#include "name"` line, if the line is one.
std::optional<std::string_view> local_include_of(std::string_view line);

}  // namespace sniproxy::bpf
