#include "protocol/quic/quic_hello_reader.hpp"

#include "protocol/client_hello_body.hpp"
#include "protocol/quic/initial_frames.hpp"
#include "protocol/quic/long_header.hpp"
#include "protocol/quic/transport_parameters.hpp"

namespace sniproxy::protocol::quic {
namespace {

QuicHelloStart refuse(QuicHelloError error, std::uint32_t version = 0) {
  return QuicHelloStart{.reader = std::nullopt, .error = error, .version = version};
}

}  // namespace

QuicHelloStart read_first_initial(std::span<const std::uint8_t> datagram,
                                  std::size_t max_hello_size) {
  // Size first: no answer of any kind (not even Version Negotiation) goes
  // to a datagram too small to have been worth amplifying (RFC 9000 14.1).
  if (datagram.size() < kMinInitialDatagram) return refuse(QuicHelloError::too_short);
  if ((datagram[0] & kLongHeaderBit) == 0) return refuse(QuicHelloError::not_initial);
  const auto ids = read_long_header_ids(datagram);
  if (!ids) return refuse(QuicHelloError::bad_header);
  // Version 0 is Version Negotiation, which a server never answers.
  if (ids->version == 0) return refuse(QuicHelloError::not_initial);
  const QuicVersion* version = find_version(ids->version);
  if (version == nullptr) return refuse(QuicHelloError::unknown_version, ids->version);
  if (version->packet_type(ids->first_byte) != LongPacketType::initial)
    return refuse(QuicHelloError::not_initial, ids->version);
  if (ids->dcid.size() < kMinInitialDcid || ids->dcid.size() > kMaxConnectionIdSize)
    return refuse(QuicHelloError::bad_header, ids->version);
  auto keys = client_initial_keys(*version, ids->dcid);
  if (!keys) return refuse(QuicHelloError::internal, ids->version);

  InitialFlow flow{.version = version,
                   .dcid = {ids->dcid.begin(), ids->dcid.end()},
                   .keys = *keys,
                   .largest_packet_number = std::nullopt};
  const OpenedDatagram opened = open_client_initials(datagram, flow);
  if (opened.payloads.empty())
    return refuse(opened.stopped.value_or(QuicHelloError::bad_header), ids->version);
  QuicHelloReader reader(std::move(flow), max_hello_size);
  if (reader.take(opened) == ParseStatus::rejected) return refuse(reader.error(), ids->version);
  return QuicHelloStart{
      .reader = std::move(reader), .error = QuicHelloError::internal, .version = ids->version};
}

ParseStatus QuicHelloReader::feed(std::span<const std::uint8_t> datagram) {
  if (status_ != ParseStatus::need_more) return status_;
  last_ignored_.reset();
  if (datagram.size() < kMinInitialDatagram) {
    last_ignored_ = QuicHelloError::too_short;
    return status_;
  }
  const OpenedDatagram opened = open_client_initials(datagram, flow_);
  if (opened.payloads.empty()) {
    last_ignored_ = opened.stopped.value_or(QuicHelloError::not_initial);
    return status_;
  }
  return take(opened);
}

ParseStatus QuicHelloReader::take(const OpenedDatagram& opened) {
  for (const auto& payload : opened.payloads)
    if (auto error = read_initial_frames(payload, crypto_)) return reject(*error);
  if (!crypto_.complete()) return status_;
  if (parse_client_hello_body(crypto_.hello_body(), info_.hello))
    return reject(QuicHelloError::bad_hello);
  info_.version = flow_.version->number;
  if (info_.hello.quic_transport_parameters)
    info_.max_idle_timeout_ms = max_idle_timeout_ms(*info_.hello.quic_transport_parameters);
  crypto_ = CryptoAssembler(0);  // the hello is parsed: its bytes are no longer needed
  status_ = ParseStatus::done;
  return status_;
}

ParseStatus QuicHelloReader::reject(QuicHelloError error) {
  error_ = error;
  status_ = ParseStatus::rejected;
  crypto_ = CryptoAssembler(0);
  return status_;
}

}  // namespace sniproxy::protocol::quic
