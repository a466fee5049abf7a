#include "bpf/dns_mirror/dns_mirror.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/btf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sniproxy::bpf {

namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

std::string why(int error) {
  if (error == EPERM || error == EACCES)
    return fmt::format("{} (creating a BPF map needs CAP_BPF or root)", std::strerror(error));
  return std::strerror(error);
}

// libbpf prints its own lines on stderr by default; the mirror's errors are
// returned and logged once in the proxy's format instead.
class QuietLibbpf {
 public:
  QuietLibbpf() : previous_(libbpf_set_print(nullptr)) {}
  ~QuietLibbpf() { libbpf_set_print(previous_); }
  QuietLibbpf(const QuietLibbpf&) = delete;
  QuietLibbpf& operator=(const QuietLibbpf&) = delete;

 private:
  libbpf_print_fn_t previous_;
};

struct MapTypes {
  BtfPtr btf{nullptr, &btf__free};  // loaded; its fd lives as long as this
  int key = 0;
  int value = 0;
};

// The BTF of DnsMirrorKey and DnsMirrorValue, which is what lets bpftool
// print names and addresses as text. Negative ids are libbpf's errors.
Result<MapTypes> build_types() {
  MapTypes t;
  t.btf.reset(btf__new_empty());
  if (!t.btf) return make_error(fmt::format("BTF: {}", std::strerror(errno)));
  btf* b = t.btf.get();
  // bpftool prints an array of 1-byte ints named "char" as a string.
  const int chr = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
  const int u32 = btf__add_int(b, "unsigned int", 4, 0);
  const int u64 = btf__add_int(b, "unsigned long long", 8, 0);
  const int name = btf__add_array(b, u32, chr, sizeof DnsMirrorKey{}.name);
  const int address = btf__add_array(b, u32, chr, sizeof DnsMirrorValue{}.addresses[0]);
  const int addresses = btf__add_array(b, u32, address, kDnsMirrorAddresses);
  const int error = btf__add_array(b, u32, chr, sizeof DnsMirrorValue{}.error);
  if (std::min({chr, u32, u64, name, address, addresses, error}) < 0)
    return make_error("BTF: cannot describe the map's types");

  auto bits = [](std::size_t offset) { return static_cast<std::uint32_t>(offset * 8); };
  t.key = btf__add_struct(b, "sniproxy_dns_key", sizeof(DnsMirrorKey));
  int rc = t.key < 0 ? t.key : 0;
  if (rc == 0) rc = btf__add_field(b, "name", name, bits(offsetof(DnsMirrorKey, name)), 0);
  if (rc == 0) rc = btf__add_field(b, "worker", u32, bits(offsetof(DnsMirrorKey, worker)), 0);
  t.value = rc == 0 ? btf__add_struct(b, "sniproxy_dns_value", sizeof(DnsMirrorValue)) : rc;
  if (t.value < 0) rc = t.value;
  const auto field = [&](const char* field_name, int type, std::size_t offset) {
    if (rc == 0) rc = btf__add_field(b, field_name, type, bits(offset), 0);
  };
  field("expires_unix", u64, offsetof(DnsMirrorValue, expires_unix));
  field("count", u32, offsetof(DnsMirrorValue, count));
  field("negative", u32, offsetof(DnsMirrorValue, negative));
  field("addresses", addresses, offsetof(DnsMirrorValue, addresses));
  field("error", error, offsetof(DnsMirrorValue, error));
  if (rc < 0) return make_error(fmt::format("BTF: {}", std::strerror(-rc)));
  if (int loaded = btf__load_into_kernel(b); loaded < 0)
    return make_error(fmt::format("loading BTF: {}", why(-loaded)));
  return t;
}

template <std::size_t N>
void copy_text(char (&to)[N], std::string_view from) {
  const std::size_t n = std::min(from.size(), N - 1);
  std::memcpy(to, from.data(), n);
  to[n] = '\0';
}

class MirrorObserver : public dns::CacheObserver {
 public:
  MirrorObserver(DnsMirror& mirror, std::uint32_t worker) : mirror_(mirror), worker_(worker) {}
  void stored(std::string_view name, const Result<dns::Addresses>& answer,
              std::chrono::steady_clock::time_point expires) override {
    mirror_.store(worker_, name, answer, expires);
  }
  void removed(std::string_view name) override { mirror_.remove(worker_, name); }

 private:
  DnsMirror& mirror_;
  std::uint32_t worker_;
};

}  // namespace

Result<std::unique_ptr<DnsMirror>> DnsMirror::create(std::uint32_t entries) {
  const QuietLibbpf quiet;
  auto types = build_types();
  if (!types) return types.error();
  LIBBPF_OPTS(bpf_map_create_opts, options, .btf_fd = static_cast<__u32>(btf__fd(types->btf.get())),
              .btf_key_type_id = static_cast<__u32>(types->key),
              .btf_value_type_id = static_cast<__u32>(types->value));
  UniqueFd map(bpf_map_create(BPF_MAP_TYPE_LRU_HASH, kDnsMirrorMapName, sizeof(DnsMirrorKey),
                              sizeof(DnsMirrorValue), std::max<std::uint32_t>(entries, 1),
                              &options));
  if (!map) return make_error(fmt::format("creating the BPF map: {}", why(errno)));
  bpf_map_info info{};
  std::uint32_t length = sizeof info;
  if (bpf_obj_get_info_by_fd(map.get(), &info, &length) != 0)
    return make_error(fmt::format("reading the BPF map's id: {}", why(errno)));
  // The map holds its own reference to the BTF; `types` may go.
  return std::unique_ptr<DnsMirror>(new DnsMirror(std::move(map), info.id));
}

std::unique_ptr<dns::CacheObserver> DnsMirror::observer_for(std::uint32_t worker) {
  return std::make_unique<MirrorObserver>(*this, worker);
}

DnsMirrorKey DnsMirror::key_for(std::uint32_t worker, std::string_view name) {
  DnsMirrorKey key{};
  copy_text(key.name, name);
  key.worker = worker;
  return key;
}

void DnsMirror::store(std::uint32_t worker, std::string_view name,
                      const Result<dns::Addresses>& answer,
                      std::chrono::steady_clock::time_point expires) {
  const DnsMirrorKey key = key_for(worker, name);
  DnsMirrorValue value{};
  const auto left = expires - std::chrono::steady_clock::now();
  const auto at = std::chrono::system_clock::now() +
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
  value.expires_unix = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count()));
  if (answer) {
    value.count = static_cast<std::uint32_t>(answer.value().size());
    for (std::size_t i = 0; i < answer.value().size() && i < kDnsMirrorAddresses; ++i)
      copy_text(value.addresses[i], answer.value()[i].to_string());
  } else {
    value.negative = 1;
    copy_text(value.error, answer.error().message);
  }
  // A failed update only makes the window less complete: never worth more
  // than the lookup it describes.
  bpf_map_update_elem(map_.get(), &key, &value, BPF_ANY);
}

void DnsMirror::remove(std::uint32_t worker, std::string_view name) {
  const DnsMirrorKey key = key_for(worker, name);
  bpf_map_delete_elem(map_.get(), &key);
}

}  // namespace sniproxy::bpf
