#include "proxy/idle_list.hpp"

#include "proxy/connection.hpp"

namespace sniproxy::proxy {

void IdleList::touch(Connection* c) {
  IdleLink& link = c->idle_link();
  if (link.linked) {
    if (tail_ == c) return;
    remove(c);
  }
  link.linked = true;
  link.prev = tail_;
  link.next = nullptr;
  if (tail_ != nullptr) tail_->idle_link().next = c;
  tail_ = c;
  if (head_ == nullptr) head_ = c;
}

void IdleList::remove(Connection* c) {
  IdleLink& link = c->idle_link();
  if (!link.linked) return;
  if (link.prev != nullptr)
    link.prev->idle_link().next = link.next;
  else
    head_ = link.next;
  if (link.next != nullptr)
    link.next->idle_link().prev = link.prev;
  else
    tail_ = link.prev;
  link = IdleLink{};
}

}  // namespace sniproxy::proxy
