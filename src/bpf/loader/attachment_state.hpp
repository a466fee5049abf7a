#pragma once
// Shared between an Attachment and the Module that made it, so whichever
// dies first detaches exactly once.
#include <functional>
#include <string>

namespace sniproxy::bpf::detail {

struct AttachmentState {
  std::string description;
  std::function<void()> detach_action;  // cleared once run

  void detach() {
    if (!detach_action) return;
    auto action = std::move(detach_action);
    detach_action = nullptr;
    action();
  }
};

}  // namespace sniproxy::bpf::detail
