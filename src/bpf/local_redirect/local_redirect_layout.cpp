#include "bpf/local_redirect/local_redirect_layout.hpp"

#include <utility>

#include <fmt/format.h>

#include "bpf/loader/btf_fields.hpp"

namespace sniproxy::bpf {

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

}  // namespace sniproxy::bpf
