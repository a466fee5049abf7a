#include "fake_dns_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace sniproxy::dns::testing {

namespace {
constexpr std::uint16_t kClassIn = 1;
constexpr std::uint8_t kRcodeServfail = 2;
constexpr std::uint8_t kRcodeNxdomain = 3;
constexpr std::uint8_t kRcodeRefused = 5;

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}
[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::abort();
}
}  // namespace

FakeDnsServer::FakeDnsServer() {
  fd_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) die("fake dns: socket");
  sockaddr_storage ss{};
  const Endpoint any{IpAddress::v4(127, 0, 0, 1), 0};
  const unsigned len = any.to_sockaddr(ss);
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) die("fake dns: bind");
  socklen_t got = sizeof ss;
  if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &got) != 0) die("getsockname");
  endpoint_ = *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

void FakeDnsServer::add(const std::string& name, const IpAddress& ip, std::uint32_t ttl) {
  zones_[name].records.push_back(Record{ip, ttl});
}

void FakeDnsServer::add_empty(const std::string& name) {
  zones_[name];
}

void FakeDnsServer::set_behaviour(const std::string& name, Behaviour behaviour) {
  zones_[name].behaviour = behaviour;
}

void FakeDnsServer::clear(const std::string& name) {
  zones_[name].records.clear();
}

int FakeDnsServer::queries(std::string_view name) const {
  return queries(name, kTypeA) + queries(name, kTypeAaaa);
}

int FakeDnsServer::queries(std::string_view name, std::uint16_t type) const {
  auto it = counts_.find({std::string(name), type});
  return it == counts_.end() ? 0 : it->second;
}

void FakeDnsServer::serve_pending() {
  for (int i = 0; i < 1000; ++i) {  // bounded: the socket is non-blocking anyway
    std::uint8_t buf[1500];
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    const ssize_t n =
        ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    if (n < 0) return;
    const std::vector<std::uint8_t> reply = answer(buf, static_cast<std::size_t>(n));
    if (reply.empty()) continue;
    (void)::sendto(fd_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                   peer_len);
  }
}

std::vector<std::uint8_t> FakeDnsServer::answer(const std::uint8_t* query, std::size_t size) {
  if (size < 12 || get16(query + 4) != 1) return {};  // exactly one question
  // The question name: uncompressed labels.
  std::size_t pos = 12;
  std::string name;
  while (true) {
    if (pos >= size) return {};
    const std::uint8_t len = query[pos++];
    if (len == 0) break;
    if (len > 63 || pos + len > size) return {};
    if (!name.empty()) name += '.';
    for (std::size_t i = 0; i < len; ++i) name += static_cast<char>(std::tolower(query[pos + i]));
    pos += len;
  }
  if (pos + 4 > size) return {};
  const std::uint16_t qtype = get16(query + pos);
  const std::uint16_t qclass = get16(query + pos + 2);
  pos += 4;
  ++counts_[{name, qtype}];
  ++total_;

  std::uint8_t rcode = 0;
  std::vector<const Record*> answers;
  auto zone = zones_.find(name);
  if (zone == zones_.end()) {
    rcode = kRcodeNxdomain;
  } else {
    switch (zone->second.behaviour) {
      case Behaviour::silent:
        return {};
      case Behaviour::servfail:
        rcode = kRcodeServfail;
        break;
      case Behaviour::refused:
        rcode = kRcodeRefused;
        break;
      case Behaviour::answer:
        for (const Record& r : zone->second.records) {
          const bool v4 = r.ip.family == Family::v4;
          if (qclass == kClassIn && ((v4 && qtype == kTypeA) || (!v4 && qtype == kTypeAaaa)))
            answers.push_back(&r);
        }
        break;
    }
  }

  std::vector<std::uint8_t> out;
  out.insert(out.end(), query, query + 2);  // id
  const std::uint16_t query_flags = get16(query + 2);
  // QR, the query's opcode and RD, AA, RA, rcode.
  put16(out, static_cast<std::uint16_t>(0x8000 | (query_flags & 0x7900) | 0x0400 | 0x0080 | rcode));
  put16(out, 1);
  put16(out, static_cast<std::uint16_t>(answers.size()));
  put16(out, 0);
  put16(out, 0);
  out.insert(out.end(), query + 12, query + pos);  // the question as asked
  for (const Record* r : answers) {
    put16(out, 0xc00c);  // pointer to the question name
    put16(out, qtype);
    put16(out, kClassIn);
    put32(out, r->ttl);
    const std::size_t n = r->ip.family == Family::v4 ? 4 : 16;
    put16(out, static_cast<std::uint16_t>(n));
    out.insert(out.end(), r->ip.bytes.begin(), r->ip.bytes.begin() + static_cast<long>(n));
  }
  return out;
}

}  // namespace sniproxy::dns::testing
