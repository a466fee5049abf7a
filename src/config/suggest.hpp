#pragma once
// "did you mean ...?" for misspelt keys and values.
#include <optional>
#include <span>
#include <string_view>

namespace sniproxy::config {

// Edit distance counting insertions, deletions, substitutions and swaps of
// two neighbouring characters (so "timoeut" is one edit from "timeout").
std::size_t edit_distance(std::string_view a, std::string_view b);

// The first candidate closest to `word`, if it is at most two edits away.
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

}  // namespace sniproxy::config
