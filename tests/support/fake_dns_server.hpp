#pragma once
// A tiny authoritative DNS server for tests (unit and integration): one UDP socket on 127.0.0.1
// (ephemeral port) answering A/AAAA questions from a table. Unknown names get
// NXDOMAIN; names can also be made silent (never answered), SERVFAIL or
// REFUSED. It does not poll: the test's loop calls serve_pending() when the
// socket is readable, so everything runs on one thread.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::dns::testing {

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeAaaa = 28;

class FakeDnsServer {
 public:
  enum class Behaviour { answer, silent, servfail, refused };

  FakeDnsServer();  // aborts the test binary if the socket cannot be made

  [[nodiscard]] Endpoint endpoint() const { return endpoint_; }
  [[nodiscard]] int fd() const { return fd_.get(); }

  // An A or AAAA record (by the address family), answered in the order added.
  void add(const std::string& name, const IpAddress& ip, std::uint32_t ttl);
  // The name exists but has no address records (NOERROR, no answers).
  void add_empty(const std::string& name);
  void set_behaviour(const std::string& name, Behaviour behaviour);
  // Forgets the name's records (its behaviour stays): a new answer follows.
  void clear(const std::string& name);

  // Reads and answers every datagram waiting on the socket.
  void serve_pending();

  [[nodiscard]] int queries(std::string_view name) const;
  [[nodiscard]] int queries(std::string_view name, std::uint16_t type) const;
  [[nodiscard]] int total_queries() const { return total_; }

 private:
  struct Record {
    IpAddress ip;
    std::uint32_t ttl;
  };
  struct Zone {
    std::vector<Record> records;
    Behaviour behaviour = Behaviour::answer;
  };
  // The reply to `query`, or empty for no reply.
  std::vector<std::uint8_t> answer(const std::uint8_t* query, std::size_t size);

  UniqueFd fd_;
  Endpoint endpoint_;
  std::map<std::string, Zone, std::less<>> zones_;
  std::map<std::pair<std::string, std::uint16_t>, int> counts_;
  int total_ = 0;
};

}  // namespace sniproxy::dns::testing
