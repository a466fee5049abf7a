#include "bpf/loader/attachment_state.hpp"
#include "bpf/loader/loader.hpp"

namespace sniproxy::bpf {

Attachment::Attachment(std::shared_ptr<detail::AttachmentState> state) : state_(std::move(state)) {}

Attachment::Attachment(Attachment&& other) noexcept = default;

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    detach();
    state_ = std::move(other.state_);
  }
  return *this;
}

Attachment::~Attachment() {
  detach();
}

void Attachment::detach() {
  if (state_) state_->detach();
  state_.reset();
}

bool Attachment::attached() const {
  return state_ && static_cast<bool>(state_->detach_action);
}

std::string Attachment::description() const {
  return state_ ? state_->description : std::string();
}

}  // namespace sniproxy::bpf
