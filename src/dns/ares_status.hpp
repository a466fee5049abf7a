#pragma once
// What a c-ares lookup status means for the proxy: the message an operator
// reads in the access log, and whether the failure may be cached.
#include <string>
#include <string_view>

namespace sniproxy::dns {

// "NAME: no such domain (NXDOMAIN)", "NAME: timed out", ... For ARES_ENODATA
// the caller passes `no_data_message`, since it depends on the families asked.
std::string lookup_error_message(int ares_status, std::string_view name,
                                 std::string_view no_data_message);

// True for answers about the name or the servers (NXDOMAIN, no data, timeout,
// SERVFAIL, ...), false for local conditions (out of memory, cancelled).
bool is_cacheable_failure(int ares_status);

}  // namespace sniproxy::dns
