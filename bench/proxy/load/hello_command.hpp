#pragma once
// `hello --sni NAME [--alpn LIST] [--secrets-from FILE]`: writes the
// ClientHello the load tools send to stdout. With --secrets-from, the random,
// session id and key share are copied from FILE (a hello captured from
// openssl with the same name and ALPN), so `cmp` against FILE proves the
// tools send byte for byte what openssl sends.
#include "args.hpp"

namespace proxy_load {

int run_hello(const Args& args);

}  // namespace proxy_load
