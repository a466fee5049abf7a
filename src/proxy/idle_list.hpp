#pragma once
// A worker's forwarding connections, least recently active first, for the
// idle sweep. Intrusive: each connection carries its own IdleLink, which
// only this list reads or writes, so a touch is O(1) and allocates nothing.
namespace sniproxy::proxy {

class Connection;

struct IdleLink {
  Connection* prev = nullptr;
  Connection* next = nullptr;
  bool linked = false;
};

class IdleList {
 public:
  // To the back: the most recently active.
  void touch(Connection* c);
  void remove(Connection* c);
  [[nodiscard]] Connection* oldest() const { return head_; }

 private:
  Connection* head_ = nullptr;
  Connection* tail_ = nullptr;
};

}  // namespace sniproxy::proxy
