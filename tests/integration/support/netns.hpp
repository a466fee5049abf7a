#pragma once
// Network namespaces for the suites that need their own network (xdp,
// retrans): namespaces made with iproute2 and always removed again (RAII),
// two of them joined by a veth pair with addresses, a way to run code inside
// one (a thread that joined it with setns(2): sockets it creates and
// processes it starts stay there), and a random loss of outgoing TCP.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sniproxy::integration {

// Runs `ip ARGS...` (bounded in time); "" on success, else what it printed.
std::string ip(const std::vector<std::string>& args);
// Runs `ip netns exec NS COMMAND...` (bounded in time); "" on success.
std::string netns_exec(const std::string& ns, const std::vector<std::string>& command);

// "<pid>n<sequence>": names built on it are unique per process and call, so
// parallel runs and tests do not collide. Short enough for device names
// (15 characters) behind a 2-character prefix.
std::string unique_tag();

class NetNs {
 public:
  explicit NetNs(std::string name);  // ip netns add
  ~NetNs();                          // ip netns del: its devices go with it
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& error() const { return error_; }  // "" when it exists

 private:
  std::string name_;
  std::string error_;
};

// Runs `fn` on a new thread inside network namespace `ns` and waits for it.
// Returns "" or why the thread could not enter the namespace.
std::string run_in(const std::string& ns, const std::function<void()>& fn);

// One end of a veth pair: the namespace it lives in, its device name, its
// MAC ("" keeps the kernel's) and its addresses as "address/prefix" (IPv6
// ones are added without duplicate address detection, usable at once).
struct VethEnd {
  std::string ns;
  std::string device;
  std::string mac;
  std::vector<std::string> addresses;
};

// Two namespaces joined by a veth pair, loopback and both ends up. All of it
// goes when the VethLink does (the namespaces take their devices along).
class VethLink {
 public:
  VethLink(VethEnd a, VethEnd b) : a_(std::move(a)), b_(std::move(b)) {}
  // Creates the namespaces, the pair and the addresses; "" or what failed.
  std::string setup();

  [[nodiscard]] const VethEnd& a() const { return a_; }
  [[nodiscard]] const VethEnd& b() const { return b_; }

 private:
  VethEnd a_, b_;
  std::unique_ptr<NetNs> a_ns_, b_ns_;
};

// Drops a random share (`probability`) of the TCP segments that `end` sends
// to `destination`, so its connections retransmit. "" or what failed.
std::string drop_outgoing_tcp(const VethEnd& end, std::string_view destination, double probability);

}  // namespace sniproxy::integration
