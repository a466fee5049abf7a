#pragma once
// The `sniproxy retrans --interval` view: retransmits of one interval
// counted per owning process and per remote address, rendered as a small
// top-like table or one JSON object. Pure, unit-tested.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "bpf/retrans/retrans_event.hpp"

namespace sniproxy::bpf {

class RetransTable {
 public:
  void add(const RetransEvent& event);
  void clear();

  [[nodiscard]] std::uint64_t total() const { return total_; }
  // (tgid, comm) -> count; tgid 0 with comm "?" collects unknown owners.
  [[nodiscard]] const std::map<std::pair<std::uint32_t, std::string>, std::uint64_t>& processes()
      const {
    return processes_;
  }
  [[nodiscard]] const std::map<IpAddress, std::uint64_t>& remotes() const { return remotes_; }

  // Header line, then the busiest `rows` processes and remote addresses,
  // most retransmits first. `lost` is the perf buffer's lost count in the
  // interval, shown so a quiet table is not mistaken for a quiet network.
  [[nodiscard]] std::string render(const std::string& time, double interval_s, std::uint64_t lost,
                                   std::size_t rows = 10) const;
  [[nodiscard]] std::string render_json(const std::string& time, double interval_s,
                                        std::uint64_t lost, std::size_t rows = 10) const;

 private:
  std::uint64_t total_ = 0;
  std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> processes_;
  std::map<IpAddress, std::uint64_t> remotes_;
};

}  // namespace sniproxy::bpf
