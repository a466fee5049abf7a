#pragma once
// Fatal errors and the hard time limit. Every subcommand is bounded: the
// driving script must never hang on a stuck proxy, so a SIGALRM deadline ends
// the process with a message no matter which syscall it is blocked in.
#include <string>

namespace proxy_load {

[[noreturn]] void die(const std::string& why);
// die() with strerror(errno) appended.
[[noreturn]] void die_errno(const std::string& what);
// Ends the process (exit status 3) after `seconds` of wall time.
void arm_deadline(unsigned seconds);

}  // namespace proxy_load
