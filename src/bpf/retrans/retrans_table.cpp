#include "bpf/retrans/retrans_table.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "common/json.hpp"

namespace sniproxy::bpf {
namespace {

// Entries of `counts` sorted by count (descending), at most `rows`.
template <class Key>
std::vector<std::pair<Key, std::uint64_t>> top(const std::map<Key, std::uint64_t>& counts,
                                               std::size_t rows) {
  std::vector<std::pair<Key, std::uint64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (sorted.size() > rows) sorted.resize(rows);
  return sorted;
}

}  // namespace

void RetransTable::add(const RetransEvent& event) {
  ++total_;
  if (event.owner_known) {
    ++processes_[{event.owner.tgid, event.owner.comm}];
  } else {
    ++processes_[{0, "?"}];
  }
  ++remotes_[event.remote.ip];
}

void RetransTable::clear() {
  total_ = 0;
  processes_.clear();
  remotes_.clear();
}

std::string RetransTable::render(const std::string& time, double interval_s, std::uint64_t lost,
                                 std::size_t rows) const {
  std::string out = fmt::format("{}  retransmits={} in {:.1f}s  lost_events={}\n", time, total_,
                                interval_s, lost);
  out += fmt::format("  {:>8}  {:<16}  {:>8}\n", "PID", "COMM", "RETRANS");
  for (const auto& [who, count] : top(processes_, rows)) {
    out += fmt::format("  {:>8}  {:<16}  {:>8}\n", who.first == 0 ? "?" : std::to_string(who.first),
                       who.second, count);
  }
  out += fmt::format("  {:<40}  {:>8}\n", "REMOTE", "RETRANS");
  for (const auto& [address, count] : top(remotes_, rows)) {
    out += fmt::format("  {:<40}  {:>8}\n", address.to_string(), count);
  }
  return out;
}

std::string RetransTable::render_json(const std::string& time, double interval_s,
                                      std::uint64_t lost, std::size_t rows) const {
  std::string processes;
  for (const auto& [who, count] : top(processes_, rows)) {
    if (!processes.empty()) processes += ',';
    processes += who.first == 0
                     ? fmt::format(R"({{"pid":null,"comm":null,"retransmits":{}}})", count)
                     : fmt::format(R"({{"pid":{},"comm":{},"retransmits":{}}})", who.first,
                                   json_string(who.second), count);
  }
  std::string remotes;
  for (const auto& [address, count] : top(remotes_, rows)) {
    if (!remotes.empty()) remotes += ',';
    remotes += fmt::format(R"({{"address":{},"retransmits":{}}})", json_string(address.to_string()),
                           count);
  }
  return fmt::format(R"({{"time":{},"interval_s":{:.3f},"retransmits":{},"lost_events":{},)"
                     R"("processes":[{}],"remotes":[{}]}})",
                     json_string(time), interval_s, total_, lost, processes, remotes);
}

}  // namespace sniproxy::bpf
