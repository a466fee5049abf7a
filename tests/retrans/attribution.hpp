#pragma once
// Scores the tracer against the truth: which of the known senders owns each
// retransmit, by the connection's 4-tuple.
#include <cstddef>
#include <string>
#include <vector>

#include "bpf/retrans/retrans_event.hpp"
#include "bulk_traffic.hpp"

namespace sniproxy::retrans_test {

struct Attribution {
  std::size_t events = 0;               // retransmits on the senders' connections
  std::size_t owner_correct = 0;        // owner map named the right tgid and comm
  std::size_t current_correct = 0;      // the current task at the retransmit was the sender
  std::vector<std::size_t> per_sender;  // events per sender, in `senders` order
  std::vector<std::string> wrong;       // a few examples of misattributions

  [[nodiscard]] double owner_fraction() const {
    return events ? static_cast<double>(owner_correct) / static_cast<double>(events) : 0.0;
  }
  [[nodiscard]] double current_fraction() const {
    return events ? static_cast<double>(current_correct) / static_cast<double>(events) : 0.0;
  }
};

Attribution score(const std::vector<bpf::RetransEvent>& events, const std::vector<Sender>& senders);

}  // namespace sniproxy::retrans_test
