#include "dns/ares_status.hpp"

#include <ares.h>

namespace sniproxy::dns {

namespace {
std::string with_name(std::string_view name, std::string_view what) {
  std::string s(name);
  s += ": ";
  s += what;
  return s;
}
}  // namespace

std::string lookup_error_message(int ares_status, std::string_view name,
                                 std::string_view no_data_message) {
  switch (ares_status) {
    case ARES_ENOTFOUND:
      return with_name(name, "no such domain (NXDOMAIN)");
    case ARES_ENODATA:
      return std::string(no_data_message);
    case ARES_ETIMEOUT:
      return with_name(name, "timed out");
    case ARES_ESERVFAIL:
      return with_name(name, "server failure (SERVFAIL)");
    case ARES_EREFUSED:
      return with_name(name, "query refused (REFUSED)");
    case ARES_ENOTIMP:
      return with_name(name, "not implemented by the server (NOTIMP)");
    case ARES_EFORMERR:
      return with_name(name, "server rejected the query (FORMERR)");
    case ARES_EBADRESP:
      return with_name(name, "malformed DNS response");
    case ARES_EBADNAME:
      return with_name(name, "invalid name");
    // c-ares 1.18 reports this both for unreachable servers and, with more
    // than one server, for servers that all answered SERVFAIL or REFUSED.
    case ARES_ECONNREFUSED:
      return with_name(name, "no DNS server gave a usable answer (unreachable, failed or refused)");
    case ARES_ENOMEM:
      return with_name(name, "out of memory");
    default:
      return with_name(name, ares_strerror(ares_status));
  }
}

bool is_cacheable_failure(int ares_status) {
  switch (ares_status) {
    case ARES_ENOMEM:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
    case ARES_ENOTINITIALIZED:
      return false;
    default:
      return true;
  }
}

}  // namespace sniproxy::dns
