#pragma once
// The forwarding modes a config asks for, checked against what this
// kernel's io_uring offers (probed once at start-up), and the start-up line
// that says what `auto` will do here and why.
#include "bpf/io_uring_probe.hpp"
#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

// An error when a listener (or [forwarding]) asks for splice on a kernel
// without IORING_OP_SPLICE; logs event=forwarding_auto when auto is used.
// Returns whether auto may splice.
Result<bool> check_forwarding(const config::Config& config, const bpf::IoUringFeatures& io_uring,
                              std::string_view kernel_release);

}  // namespace sniproxy::app
