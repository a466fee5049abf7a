#pragma once
// Retransmits of the proxy's own sockets ([retrans]), by the side that
// retransmitted, the server name and the backend. Written by the retransmit
// monitor's thread, read by /metrics. Names come from clients, so the label
// sets are bounded: past kMaxLabelValues distinct values the rest count
// under "_other".
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "observe/socket_index.hpp"

namespace sniproxy::observe {

class RetransMetrics {
 public:
  static constexpr std::size_t kMaxLabelValues = 1000;
  static constexpr std::string_view kOther = "_other";

  // One retransmit of a forwarding socket.
  void count(const SocketOwner& owner);
  // One of this process's sockets that was not forwarding (a connection
  // still in its hello or connect, a listener's SYN-ACK).
  void count_unattributed();
  void count_lost(std::uint64_t n);

  struct Snapshot {
    std::array<std::uint64_t, 2> by_side{};  // [client, backend]
    std::vector<std::pair<std::string, std::uint64_t>> by_server_name;
    std::vector<std::pair<std::string, std::uint64_t>> by_backend;
    std::uint64_t unattributed = 0;
    std::uint64_t lost_events = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  static void bump_label(std::map<std::string, std::uint64_t, std::less<>>& counts,
                         const std::string& value);

  mutable std::mutex mu_;
  Snapshot totals_;
  std::map<std::string, std::uint64_t, std::less<>> by_server_name_;
  std::map<std::string, std::uint64_t, std::less<>> by_backend_;
};

}  // namespace sniproxy::observe
