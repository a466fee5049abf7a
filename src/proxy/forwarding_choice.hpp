#pragma once
// What `[forwarding] mode = "auto"` does with a connection, kept in one place
// so the policy and the benchmark that justifies it (bench/proxy) meet here.
//
// Splicing moves a direction's bytes without a userspace copy but costs two
// splice(2) calls and a pipe per chunk; copying costs a copy each way but
// only the recv and the send. So short exchanges (TLS handshakes, API calls)
// are cheapest copied and long streams cheapest spliced. Bytes carried alone
// do not tell a stream: a long-lived connection of small messages back and
// forth (a chat, a database session) carries as much, and splice serves
// small messages worst (bench/proxy/run-pingpong.sh: 0.48x direct messages/s
// at 32 connections against copy's 0.54x). A stream keeps the socket full:
// a receive finds a whole buffer waiting. So each direction starts in copy
// mode and moves to splice once it has carried kAutoSpliceAfterBytes and
// its last kAutoStreamingReads receives each filled a whole buffer. The
// move happens between a completed send and the next read, when the
// direction holds no bytes, so nothing can be reordered.
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

namespace sniproxy::proxy {

inline constexpr std::uint64_t kAutoSpliceAfterBytes = std::uint64_t{256} * 1024;
inline constexpr std::uint32_t kAutoStreamingReads = 4;

// For the start-up log of a config using auto: what it will do and why
// (the figures are bench/proxy/run-modes.sh on the 2-core 6.18 VM, README).
inline constexpr std::string_view kAutoPolicy =
    "copy, then splice once a direction has carried 262144 bytes and streams (its last 4 "
    "receives each filled a whole buffer); small messages back and forth stay copied";
inline constexpr std::string_view kAutoReason =
    "splicing skips the userspace copy but costs more per connection: long streams are "
    "cheaper spliced (bulk 0.41x direct at 2.50x its CPU per GiB, copy 0.29x at 3.36x), "
    "short exchanges cheaper copied (0.55x direct connections per second at 135 us of "
    "CPU each, spliced 0.53x at 152 us), and so are small messages on long-lived "
    "connections (0.54x direct messages/s at 32 connections, spliced 0.48x)";

// With `auto_sockmap = true`: a connection also moves, both directions at
// once, to the sockmap once its traffic has turned kAutoSockmapTurns times
// between its directions with no receive filling a whole buffer
// (ExchangeWatch). 16 turns are 8 round trips: more than a TLS 1.2 or 1.3
// handshake (2 to 4 turns) and a few requests on top, so short connections,
// whose sockmap set-up and teardown cost more than the kernel path saves
// (0.47x direct connections/s against copy's 0.51x, p50 3.56x against
// 2.66x), never pay it; a long-lived session of small messages reaches it
// within its first milliseconds.
inline constexpr std::uint32_t kAutoSockmapTurns = 16;

inline constexpr std::string_view kAutoSockmapPolicy =
    "copy; sockmap for both directions once the connection's traffic has turned 16 times "
    "between its directions with no receive filling a whole buffer (a long-lived exchange "
    "of small messages); splice once a direction has carried 262144 bytes and streams (its "
    "last 4 receives each filled a whole buffer)";
inline constexpr std::string_view kAutoSockmapReason =
    "in the sockmap no proxy thread wakes per message: at 32 connections exchanging 64-byte "
    "messages its p50 is 5.4x direct against copy's 11.2x and splice's 9.6x "
    "(bench/proxy/run-pingpong.sh), but it costs more per connection (0.47x direct "
    "connections per second against copy's 0.51x) and moves bulk slowest (0.20x direct "
    "against splice's 0.49x), so short exchanges stay copied and streams are spliced";

}  // namespace sniproxy::proxy
