#include "bpf/loader/btf_fields.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sniproxy::bpf {

// Byte offset of `field` in the struct or union `type_id`, looking inside
// anonymous struct and union members (sk_buff keeps `sk` in one). Bitfields
// are not wanted here, so an offset that is not whole bytes is not found.
std::optional<std::uint32_t> member_offset(const btf* types, std::uint32_t type_id,
                                           std::string_view field, int depth) {
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

}  // namespace sniproxy::bpf
