#pragma once
// The messages on a generation's QUIC hand-over channel (a unix datagram
// socketpair the master makes, see docs/quic.md): the new generation's
// worker sends the client datagrams it cannot place, each with the client's
// address and the local (listener) address it arrived on, to the draining
// worker that owns their sessions; the master sends one `successor` message
// before it tells that worker to drain, so that it keeps its sessions
// instead of ending them. Pure: no I/O.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/address.hpp"

namespace sniproxy::proxy::quic {

enum class HandoverKind : std::uint8_t { datagram = 'D', successor = 'S' };

struct HandoverMessage {
  HandoverKind kind = HandoverKind::datagram;
  Endpoint client;
  Endpoint local;
  std::span<const std::uint8_t> payload;  // into the decoded bytes
};

// Kind, version, then two endpoints (family, 16 address bytes, port).
inline constexpr std::size_t kHandoverHeader = 2 + 2 * 19;

// A datagram message: the header, then `payload` unchanged.
std::vector<std::uint8_t> encode_handed_datagram(const Endpoint& client, const Endpoint& local,
                                                 std::span<const std::uint8_t> payload);
// The master's one-byte-kind message.
std::vector<std::uint8_t> encode_successor();

// nullopt for anything else (short, unknown kind or version, bad family).
std::optional<HandoverMessage> decode_handover(std::span<const std::uint8_t> bytes);

}  // namespace sniproxy::proxy::quic
