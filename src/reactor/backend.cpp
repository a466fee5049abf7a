#include "reactor/backend.hpp"

#include "reactor/uring/uring_reactor.hpp"

namespace sniproxy::reactor {

Result<std::unique_ptr<Reactor>> create_reactor(const ReactorOptions& options) {
  auto uring = UringReactor::create(options);
  if (!uring) return uring.error();
  return std::unique_ptr<Reactor>(std::move(uring).value());
}

}  // namespace sniproxy::reactor
