#include "bpf/loader/kernel_layout.hpp"

#include <tuple>

#include <fmt/format.h>

#include "bpf/loader/btf_fields.hpp"

namespace sniproxy::bpf {

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
