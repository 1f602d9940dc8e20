// Fork safety: a pipeline used in a child forked after it started fails with a clear error and
// never hangs (its threads do not exist in the child).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

TEST(Fork, ChildGetsAClearErrorAndDoesNotHang) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(2, 0, R"("sink")", R"("sink": {"class_name": "PassThrough"})")));
  ASSERT_TRUE(pipeline.Start());

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::alarm(20);  // a hang would end the child with SIGALRM, failing the check below
    int code = 0;
    Status added = pipeline.AddSource("cam", "x");
    if (added.code() != StatusCode::kFailedState || added.message().find("forked") == std::string::npos) code |= 1;
    Status stopped = pipeline.Stop();
    if (stopped.code() != StatusCode::kFailedState) code |= 2;
    if (pipeline.Start().code() != StatusCode::kFailedState) code |= 4;
    if (pipeline.WaitForStreams(std::chrono::seconds(1))) code |= 8;
    std::destroy_at(&pipeline);  // the destructor must not join threads that are not here
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child did not exit normally (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "bit 1: AddSource, 2: Stop, 4: Start, 8: WaitForStreams";
  // The parent's pipeline is untouched.
  EXPECT_TRUE(pipeline.running());
  EXPECT_TRUE(pipeline.Stop());
}

}  // namespace
}  // namespace vstream
