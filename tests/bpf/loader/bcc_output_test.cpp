#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <gtest/gtest.h>

#include "bpf/loader/bcc_output.hpp"

namespace sniproxy::bpf {
namespace {

TEST(StdioCapture, CapturesBothStreamsAndRestoresThem) {
  ::testing::internal::CaptureStderr();
  std::string captured;
  {
    StdioCapture capture;
    std::fprintf(stderr, "to stderr\n");
    std::cout << "to stdout" << std::endl;
    ::write(STDERR_FILENO, "raw\n", 4);
    captured = capture.finish();
  }
  std::string leaked = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(leaked, "");
  EXPECT_NE(captured.find("to stderr"), std::string::npos);
  EXPECT_NE(captured.find("to stdout"), std::string::npos);
  EXPECT_NE(captured.find("raw"), std::string::npos);
}

TEST(StdioCapture, ReplaysOurOwnLogLines) {
  ::testing::internal::CaptureStderr();
  {
    StdioCapture capture;
    std::fprintf(stderr, "ts=2024 level=info event=x\nclang noise\n");
    capture.finish();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "ts=2024 level=info event=x\n");
}

TEST(FirstCompileError, TakesTheFirstErrorLine) {
  std::string output =
      "In file included from x:\n"
      "bad.bpf.c:3:10: warning: unused\n"
      "bad.bpf.c:4:3: error: use of undeclared identifier 'nope'\n"
      "bad.bpf.c:5:3: error: second\n";
  EXPECT_EQ(first_compile_error(output),
            "bad.bpf.c:4:3: error: use of undeclared identifier 'nope'");
  EXPECT_FALSE(first_compile_error("all fine\n").has_value());
}

TEST(ClassifyLoadFailure, VerifierLogGivesTheProblemLine) {
  std::string output =
      "bpf: Failed to load program: Permission denied\n"
      "0: R1=ctx() R10=fp0\n"
      "; __u64 *v = counts.lookup(&k); return *v;\n"
      "3: (85) call bpf_map_lookup_elem#1\n"
      "4: (79) r0 = *(u64 *)(r0 +0)\n"
      "R0 invalid mem access 'map_value_or_null'\n"
      "processed 5 insns (limit 1000000) max_states_per_insn 0\n"
      "\n"
      "HINT: The 'map_value_or_null' error can happen if ...\n";
  LoadFailure failure = classify_load_failure(output);
  EXPECT_EQ(failure.kind, LoadFailureKind::verifier);
  EXPECT_EQ(failure.detail, "R0 invalid mem access 'map_value_or_null'");
}

TEST(ClassifyLoadFailure, EpermWithoutLogIsPermission) {
  LoadFailure failure =
      classify_load_failure("bpf: Failed to load program: Operation not permitted\n\n");
  EXPECT_EQ(failure.kind, LoadFailureKind::permission);
  EXPECT_EQ(
      classify_load_failure("could not open bpf map: m, error: Operation not permitted\n").kind,
      LoadFailureKind::permission);
}

TEST(ClassifyLoadFailure, OtherErrorsKeepTheirFirstLine) {
  LoadFailure failure = classify_load_failure("bpf: Failed to load program: Invalid argument\n");
  EXPECT_EQ(failure.kind, LoadFailureKind::other);
  EXPECT_EQ(failure.detail, "Invalid argument");
}

}  // namespace
}  // namespace sniproxy::bpf
