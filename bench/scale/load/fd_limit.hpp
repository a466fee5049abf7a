#pragma once
// Holding 100,000 connections takes more descriptors than a default limit.
#include <cstdint>

namespace scale_load {

// Raises RLIMIT_NOFILE (soft and, as root, hard) to `wanted`; dies if the
// result is below it, naming fs.nr_open when that is the cap.
void raise_fd_limit(std::uint64_t wanted);

}  // namespace scale_load
