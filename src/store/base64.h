// Base64 (RFC 4648, standard alphabet, padded): how etcd's JSON gateway
// carries keys and values, which are bytes.
//
// Decoding is strict because the text comes from the network: a character
// outside the alphabet, a length that is not a multiple of 4 or padding in
// the wrong place is refused (nullopt), never guessed at.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mflow::store {

std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace mflow::store
