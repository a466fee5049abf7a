#pragma once
// Field offsets read from a kernel's BTF, for BPF C that BCC compiles against
// a header tree that may belong to another kernel (docs/kernel.md).
#include <bpf/btf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sniproxy::bpf {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// The parsed BTF at `btf_path`; null when it cannot be read (errno is set).
BtfPtr parse_btf(const std::string& btf_path);

// Byte offset of `field` in the struct or union `type_id`, looking inside
// anonymous members; nullopt when absent or not byte-aligned.
std::optional<std::uint32_t> member_offset(const btf* types, std::uint32_t type_id,
                                           std::string_view field, int depth = 0);

// Byte offset of `field` in struct `type_name`; the error names what is missing.
Result<std::uint32_t> offset_of(const btf* types, const char* type_name, std::string_view field);

// The resolved type of the member `field` of struct `type_id`.
std::optional<std::uint32_t> member_type(const btf* types, std::uint32_t type_id,
                                         std::string_view field);

// The error for an unreadable BTF file, naming the feature (`user`) that needs it.
Error no_btf(const std::string& btf_path, std::string_view user);

}  // namespace sniproxy::bpf
