#pragma once
// The three outcomes of an incremental parser after each feed.

namespace sniproxy::protocol {

enum class ParseStatus { need_more, done, rejected };

}  // namespace sniproxy::protocol
