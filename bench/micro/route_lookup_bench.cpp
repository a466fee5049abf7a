// Route lookup cost at 10 and at 10,000 routes. Exact and wildcard lookups
// are hash probes, so the two sizes should cost about the same; a miss pays
// for the regexes (the same few in both tables), not for the table size.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "routing/route_table.hpp"

namespace {

using sniproxy::config::PatternKind;
using sniproxy::config::Route;
using sniproxy::routing::RouteTable;

Route make_route(PatternKind kind, std::string pattern, std::string key) {
  Route r;
  r.pattern = std::move(pattern);
  r.kind = kind;
  r.key = std::move(key);
  r.target.kind = sniproxy::config::Target::Kind::backend;
  r.target.host = "192.0.2.1";
  r.target.port = 443;
  return r;
}

// Half exact names, half wildcards, plus the same three regexes at the end
// whatever the size, so only the hashed parts grow.
RouteTable make_table(int routes) {
  sniproxy::config::RouteTable table;
  table.name = "bench";
  const int half = routes / 2;
  for (int i = 0; i < half; ++i) {
    const std::string name = "host" + std::to_string(i) + ".example.com";
    table.routes.push_back(make_route(PatternKind::exact, name, name));
  }
  for (int i = 0; i < routes - half; ++i) {
    const std::string suffix = ".zone" + std::to_string(i) + ".example.net";
    table.routes.push_back(make_route(PatternKind::wildcard, "*" + suffix, suffix));
  }
  for (const char* expr : {R"(api[0-9]+\.example\.org)", R"(cdn-[a-z]+\.example\.org)",
                           R"([a-z]+\.internal\.example\.org)"})
    table.routes.push_back(make_route(PatternKind::regex, std::string("~") + expr, expr));
  auto built = RouteTable::build(table);
  if (!built.ok()) std::abort();
  return std::move(built).value();
}

const RouteTable& table_of(int routes) {
  static const RouteTable small = make_table(10);
  static const RouteTable large = make_table(10'000);
  return routes <= 10 ? small : large;
}

void run(benchmark::State& state, const std::string& name, bool expect_hit) {
  const RouteTable& table = table_of(static_cast<int>(state.range(0)));
  if ((table.lookup(name) != nullptr) != expect_hit) {
    state.SkipWithError("unexpected lookup result");
    return;
  }
  for ([[maybe_unused]] auto _ : state) benchmark::DoNotOptimize(table.lookup(name));
  state.counters["routes"] = static_cast<double>(table.size());
}

void BM_ExactHit(benchmark::State& state) {
  // The last exact route of the table, so file position cannot help.
  run(state, "host" + std::to_string(state.range(0) / 2 - 1) + ".example.com", true);
}

void BM_WildcardHitDepth3(benchmark::State& state) {
  // Three labels below "*.zoneN.example.net": probes 3 suffixes before the hit.
  const auto last = state.range(0) - state.range(0) / 2 - 1;
  run(state, "a.b.c.zone" + std::to_string(last) + ".example.net", true);
}

void BM_Miss(benchmark::State& state) {
  // Misses every hash probe and all three regexes.
  run(state, "www.nowhere.example.biz", false);
}

BENCHMARK(BM_ExactHit)->Arg(10)->Arg(10'000);
BENCHMARK(BM_WildcardHitDepth3)->Arg(10)->Arg(10'000);
BENCHMARK(BM_Miss)->Arg(10)->Arg(10'000);

}  // namespace

BENCHMARK_MAIN();
