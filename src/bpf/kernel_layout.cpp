#include "bpf/kernel_layout.hpp"

#include <bpf/btf.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>

namespace sniproxy::bpf {
namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// Byte offset of `field` in the struct or union `type_id`, looking inside
// anonymous struct and union members (sk_buff keeps `sk` in one). Bitfields
// are not wanted here, so an offset that is not whole bytes is not found.
std::optional<std::uint32_t> member_offset(const btf* types, std::uint32_t type_id,
                                           std::string_view field, int depth = 0) {
  const btf_type* type = btf__type_by_id(types, type_id);
  if (type == nullptr || depth > 4 || !(btf_is_struct(type) || btf_is_union(type)))
    return std::nullopt;
  const btf_member* members = btf_members(type);
  for (std::uint16_t i = 0; i < btf_vlen(type); ++i) {
    const std::uint32_t bits = btf_member_bit_offset(type, i);
    if (bits % 8 != 0) continue;
    const char* name = btf__name_by_offset(types, members[i].name_off);
    if (name != nullptr && name == field) return bits / 8;
    if (name == nullptr || *name == '\0') {
      if (auto inner = member_offset(types, members[i].type, field, depth + 1))
        return bits / 8 + *inner;
    }
  }
  return std::nullopt;
}

Result<std::uint32_t> offset_of(const btf* types, const char* type_name, std::string_view field) {
  const int id = btf__find_by_name_kind(types, type_name, BTF_KIND_STRUCT);
  if (id < 0) return make_error(fmt::format("kernel BTF has no struct {}", type_name));
  auto offset = member_offset(types, static_cast<std::uint32_t>(id), field);
  if (!offset)
    return make_error(fmt::format("kernel BTF: struct {} has no field {}", type_name, field));
  return *offset;
}

// The type of the named member `field` of struct `type_id` (typedefs and
// qualifiers resolved), e.g. the anonymous struct of sock.sk_backlog.
std::optional<std::uint32_t> member_type(const btf* types, std::uint32_t type_id,
                                         std::string_view field) {
  const btf_type* type = btf__type_by_id(types, type_id);
  if (type == nullptr || !(btf_is_struct(type) || btf_is_union(type))) return std::nullopt;
  const btf_member* members = btf_members(type);
  for (std::uint16_t i = 0; i < btf_vlen(type); ++i) {
    const char* name = btf__name_by_offset(types, members[i].name_off);
    if (name != nullptr && name == field) {
      const int resolved = btf__resolve_type(types, members[i].type);
      if (resolved < 0) return std::nullopt;
      return static_cast<std::uint32_t>(resolved);
    }
  }
  return std::nullopt;
}

BtfPtr parse_btf(const std::string& btf_path) {
  return BtfPtr(btf__parse(btf_path.c_str(), nullptr), &btf__free);
}

Error no_btf(const std::string& btf_path, std::string_view user) {
  return make_error(
      fmt::format("cannot read the kernel's BTF from {}: {} (a kernel built "
                  "without CONFIG_DEBUG_INFO_BTF cannot use {})",
                  btf_path, std::strerror(errno), user));
}

}  // namespace

std::vector<std::string> LocalRedirectLayout::cflags() const {
  return {
      fmt::format("-DSNIPROXY_SOCK_RMEM_ALLOC_OFFSET={}", rmem_alloc),
      fmt::format("-DSNIPROXY_TCP_WRITE_SEQ_OFFSET={}", write_seq),
      fmt::format("-DSNIPROXY_TCP_SND_UNA_OFFSET={}", snd_una),
      fmt::format("-DSNIPROXY_TCP_RCV_NXT_OFFSET={}", rcv_nxt),
      fmt::format("-DSNIPROXY_TCP_COPIED_SEQ_OFFSET={}", copied_seq),
  };
}

Result<LocalRedirectLayout> read_local_redirect_layout(const std::string& btf_path) {
  BtfPtr types = parse_btf(btf_path);
  if (!types) return no_btf(btf_path, "local redirect");
  LocalRedirectLayout layout;
  auto backlog = offset_of(types.get(), "sock", "sk_backlog");
  if (!backlog.ok()) return backlog.error();
  const int sock = btf__find_by_name_kind(types.get(), "sock", BTF_KIND_STRUCT);
  auto backlog_type = member_type(types.get(), static_cast<std::uint32_t>(sock), "sk_backlog");
  auto inner = backlog_type ? member_offset(types.get(), *backlog_type, "rmem_alloc")
                            : std::optional<std::uint32_t>();
  if (!inner) return make_error("kernel BTF: struct sock has no field sk_backlog.rmem_alloc");
  layout.rmem_alloc = *backlog + *inner;
  for (auto [out, field] :
       {std::pair{&layout.write_seq, "write_seq"}, std::pair{&layout.snd_una, "snd_una"},
        std::pair{&layout.rcv_nxt, "rcv_nxt"}, std::pair{&layout.copied_seq, "copied_seq"}}) {
    auto offset = offset_of(types.get(), "tcp_sock", field);
    if (!offset.ok()) return offset.error();
    *out = *offset;
  }
  return layout;
}

std::vector<std::string> SkbSeqLayout::cflags() const {
  return {
      fmt::format("-DSNIPROXY_SKB_CB_OFFSET={}", skb_cb),
      fmt::format("-DSNIPROXY_SKB_SK_OFFSET={}", skb_sk),
      fmt::format("-DSNIPROXY_TCP_CB_SEQ_OFFSET={}", cb_seq),
      fmt::format("-DSNIPROXY_TCP_COPIED_SEQ_OFFSET={}", sock_copied_seq),
  };
}

Result<SkbSeqLayout> read_skb_seq_layout(const std::string& btf_path) {
  BtfPtr types = parse_btf(btf_path);
  if (!types) return no_btf(btf_path, "sockmap mode");
  SkbSeqLayout layout;
  for (auto [out, type, field] :
       {std::tuple{&layout.skb_cb, "sk_buff", "cb"}, std::tuple{&layout.skb_sk, "sk_buff", "sk"},
        std::tuple{&layout.cb_seq, "tcp_skb_cb", "seq"},
        std::tuple{&layout.sock_copied_seq, "tcp_sock", "copied_seq"}}) {
    auto offset = offset_of(types.get(), type, field);
    if (!offset.ok()) return offset.error();
    *out = *offset;
  }
  return layout;
}

}  // namespace sniproxy::bpf
