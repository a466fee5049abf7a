#include <gtest/gtest.h>

#include "bpf/loader/source_assembly.hpp"

namespace sniproxy::bpf {
namespace {

TEST(LocalInclude, RecognisesQuotedIncludesOnly) {
  EXPECT_EQ(local_include_of("#include \"shared_types.h\""), "shared_types.h");
  EXPECT_EQ(local_include_of("  #  include   \"a.h\" // why"), "a.h");
  EXPECT_FALSE(local_include_of("#include <linux/bpf.h>").has_value());
  EXPECT_FALSE(local_include_of("int x; // #include \"a.h\"").has_value());
  EXPECT_FALSE(local_include_of("#include \"\"").has_value());
}

TEST(AssembleSource, InlinesHeadersOnceWithLineMarkers) {
  std::vector<SourceText> sources = {
      {"a.h", "#define A 1\n"},
      {"main.bpf.c", "#include \"a.h\"\n#include \"a.h\"\nint f() { return A; }\n"},
  };
  auto assembled = assemble_source({}, sources);
  ASSERT_TRUE(assembled.ok()) << assembled.error().message;
  EXPECT_EQ(*assembled,
            "#line 1 \"main.bpf.c\"\n"
            "#line 1 \"a.h\"\n#define A 1\n"
            "#line 2 \"main.bpf.c\"\n"
            "#line 3 \"main.bpf.c\"\n"
            "int f() { return A; }\n");
}

TEST(AssembleSource, ResolvesEmbeddedFiles) {
  auto assembled = assemble_source({"probe.bpf.c"}, {});
  ASSERT_TRUE(assembled.ok()) << assembled.error().message;
  EXPECT_NE(assembled->find("struct sniproxy_probe_event"), std::string::npos);
  EXPECT_EQ(assembled->find("#include \"shared_types.h\""), std::string::npos);
}

TEST(AssembleSource, NamesMissingFileAndInclude) {
  auto missing = assemble_source({"nope.bpf.c"}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "BPF: no embedded BPF source named \"nope.bpf.c\"");
  auto bad_include = assemble_source({}, {{"x.bpf.c", "\n#include \"gone.h\"\n"}});
  ASSERT_FALSE(bad_include.ok());
  EXPECT_EQ(bad_include.error().message,
            "x.bpf.c:2: BPF: included file \"gone.h\" is not among the embedded bpf_c/ files");
}

TEST(AssembleSource, StopsIncludeCycles) {
  SourceLookup lookup = [](std::string_view name) -> std::optional<std::string_view> {
    if (name == "loop.h") return "#include \"loop.h\"\n";
    return std::nullopt;
  };
  // A header is inlined once, so a self-include terminates.
  auto assembled = assemble_source({"loop.h"}, {}, lookup);
  EXPECT_TRUE(assembled.ok());
}

}  // namespace
}  // namespace sniproxy::bpf
