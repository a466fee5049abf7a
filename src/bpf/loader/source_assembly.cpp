#include "bpf/loader/source_assembly.hpp"

#include <fmt/format.h>

#include <set>

#include "bpf/loader/embedded.hpp"

namespace sniproxy::bpf {
namespace {

constexpr int kMaxIncludeDepth = 16;

std::string_view trim_left(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  return text;
}

class Assembler {
 public:
  Assembler(const SourceLookup& lookup, const std::vector<SourceText>& extra)
      : lookup_(lookup), extra_(extra) {}

  Result<bool> append_file(std::string_view name, std::string_view text, int depth) {
    if (depth > kMaxIncludeDepth) {
      return make_error(
          fmt::format("BPF: includes nest deeper than {} at {}", kMaxIncludeDepth, name));
    }
    out_ += fmt::format("#line 1 \"{}\"\n", name);
    int line_number = 0;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      start = end + 1;
      ++line_number;
      auto header = local_include_of(line);
      if (!header) {
        out_.append(line);
        out_ += '\n';
        continue;
      }
      if (included_.insert(std::string(*header)).second) {
        auto header_text = find(*header);
        if (!header_text) {
          return make_error(
              fmt::format("{}:{}: BPF: included file \"{}\" is not among the embedded bpf_c/ files",
                          name, line_number, *header));
        }
        auto appended = append_file(*header, *header_text, depth + 1);
        if (!appended.ok()) return appended;
      }
      out_ += fmt::format("#line {} \"{}\"\n", line_number + 1, name);
    }
    return true;
  }

  std::optional<std::string_view> find(std::string_view name) const {
    for (const SourceText& source : extra_) {
      if (source.name == name) return std::string_view(source.text);
    }
    if (lookup_) return lookup_(name);
    return embedded_source(name);
  }

  std::string take() { return std::move(out_); }

 private:
  const SourceLookup& lookup_;
  const std::vector<SourceText>& extra_;
  std::set<std::string, std::less<>> included_;
  std::string out_;
};

}  // namespace

std::optional<std::string_view> local_include_of(std::string_view line) {
  line = trim_left(line);
  if (line.empty() || line.front() != '#') return std::nullopt;
  line = trim_left(line.substr(1));
  constexpr std::string_view kInclude = "include";
  if (line.substr(0, kInclude.size()) != kInclude) return std::nullopt;
  line = trim_left(line.substr(kInclude.size()));
  if (line.empty() || line.front() != '"') return std::nullopt;
  std::size_t close = line.find('"', 1);
  if (close == std::string_view::npos || close == 1) return std::nullopt;
  return line.substr(1, close - 1);
}

Result<std::string> assemble_source(const std::vector<std::string>& files,
                                    const std::vector<SourceText>& extra,
                                    const SourceLookup& lookup) {
  Assembler assembler(lookup, extra);
  for (const std::string& name : files) {
    auto text = assembler.find(name);
    if (!text) {
      return make_error(fmt::format("BPF: no embedded BPF source named \"{}\"", name));
    }
    auto appended = assembler.append_file(name, *text, 0);
    if (!appended.ok()) return appended.error();
  }
  for (const SourceText& source : extra) {
    // Extra sources that are only headers for the others are not compiled twice.
    if (source.name.ends_with(".h")) continue;
    auto appended = assembler.append_file(source.name, source.text, 0);
    if (!appended.ok()) return appended.error();
  }
  return assembler.take();
}

}  // namespace sniproxy::bpf
