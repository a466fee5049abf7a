#include "hello_command.hpp"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "client_hello.hpp"
#include "fail.hpp"

namespace proxy_load {

int run_hello(const Args& args) {
  ClientHelloMaker maker(args.text("sni", "reply.bench.test"), args.text("alpn", ""));
  const std::string captured_path = args.text("secrets-from", "");
  args.reject_unused();
  std::vector<std::uint8_t> hello;
  if (captured_path.empty()) {
    hello = maker.next();
  } else {
    std::ifstream in(captured_path, std::ios::binary);
    if (!in) die("cannot read " + captured_path);
    const std::vector<std::uint8_t> captured((std::istreambuf_iterator<char>(in)),
                                             std::istreambuf_iterator<char>());
    hello = maker.with_secrets_of(captured);
  }
  std::size_t written = 0;
  while (written < hello.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, hello.data() + written, hello.size() - written);
    if (n <= 0) die_errno("write");
    written += static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace proxy_load
