#include "proxy/passed_share.hpp"

namespace sniproxy::proxy {

std::vector<int> passed_share(const std::vector<UniqueFd>& passed, unsigned index,
                              unsigned workers) {
  std::vector<int> share;
  if (passed.empty() || workers == 0) return share;
  if (passed.size() < workers) {
    share.push_back(passed[index % passed.size()].get());
    return share;
  }
  for (std::size_t j = index; j < passed.size(); j += workers) share.push_back(passed[j].get());
  return share;
}

}  // namespace sniproxy::proxy
