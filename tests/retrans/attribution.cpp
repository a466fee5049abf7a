#include "attribution.hpp"

#include <fmt/format.h>

namespace sniproxy::retrans_test {

Attribution score(const std::vector<bpf::RetransEvent>& events,
                  const std::vector<Sender>& senders) {
  Attribution a;
  a.per_sender.assign(senders.size(), 0);
  for (const auto& e : events) {
    for (std::size_t i = 0; i < senders.size(); ++i) {
      const Sender& s = senders[i];
      if (e.local != s.local) continue;
      ++a.events;
      ++a.per_sender[i];
      const auto tgid = static_cast<std::uint32_t>(s.pid);
      if (e.owner_known && e.owner.tgid == tgid && e.owner.comm == s.comm) {
        ++a.owner_correct;
      } else if (a.wrong.size() < 5) {
        a.wrong.push_back(
            fmt::format("{} expected pid={} comm={}", bpf::format_event_line(e, 0), s.pid, s.comm));
      }
      if (e.current.tgid == tgid) ++a.current_correct;
    }
  }
  return a;
}

}  // namespace sniproxy::retrans_test
