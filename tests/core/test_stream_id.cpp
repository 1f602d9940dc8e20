// Stream ids: the documented character set (vstream/stream_id.hpp), checked wherever an id enters a
// pipeline, so that `{stream}` in an output path stays inside its folder and logs stay readable.
#include <gtest/gtest.h>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

TEST(StreamId, TheDocumentedCharacterSetPasses) {
  for (const char* id : {"cam", "cam1", "stream_0", "a", "b_cam", "rtsp-cam:01", "user@host", "x+y", "v1.2",
                         "megamind_bugy", "Front-Door_2"}) {
    EXPECT_TRUE(CheckStreamId(id)) << id;
  }
  EXPECT_TRUE(CheckStreamId(std::string(kMaxStreamIdBytes, 'a')));
}

TEST(StreamId, PathsControlCharactersAndOddLengthsAreRefused) {
  struct Case {
    std::string id;
    std::string reason;  // part of the message
  };
  const std::vector<Case> cases = {
      {"", "it is empty"},
      {std::string(kMaxStreamIdBytes + 1, 'a'), "129 bytes long"},
      {"..", "starts with '.'"},
      {".hidden", "starts with '.'"},
      {"../elsewhere/x", "starts with '.'"},
      {"a/../../x", "byte 1 ('/')"},
      {"cam 1", "byte 3 (' ')"},
      {std::string("cam\0x", 5), "byte 3 ('\\x00')"},
      {"cam\n1", "byte 3 ('\\n')"},
      {"caf\xc3\xa9", "byte 3 ('\\xc3')"},
      {"a\\b", "byte 1 ('\\\\')"},
  };
  for (const auto& c : cases) {
    Status s = CheckStreamId(c.id);
    ASSERT_FALSE(s) << Printable(c.id);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.reason), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("letters, digits and _ - . : @ +"), std::string::npos) << s.message();
    for (char ch : s.message()) EXPECT_FALSE(ch == '\n' || ch == '\0') << Printable(s.message());
  }
  // A long id is shown clipped, not whole.
  Status s = CheckStreamId(std::string(1000, '/'));
  EXPECT_NE(s.message().find("(904 more bytes)"), std::string::npos) << s.message();
}

// Every way into a pipeline checks the id: Pipeline::AddSource, a module runner's AddSource and a
// source's own StartStream (what an IPC server uses), and a source's `inputs`.
TEST(StreamId, CheckedWhereStreamsStart) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder"}})"));
  ASSERT_TRUE(pipeline.Start());
  Status bad = pipeline.AddSource("../elsewhere/x", "");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("invalid stream id '../elsewhere/x'"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("module 'src'"), std::string::npos) << bad.message();
  EXPECT_FALSE(pipeline.AddSource(std::string("a\0b", 3), ""));
  EXPECT_TRUE(pipeline.AddSource("cam1", ""));  // a good id still works, and the bad ones took no slot
  EXPECT_TRUE(pipeline.GetModule<test::ManualSource>("src")->End("cam1", 0));
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->eos().size(), 1u);

  Pipeline inputs;
  ASSERT_TRUE(inputs.BuildFromString(R"({
      "src": {"class_name": "SyntheticSource", "next_modules": ["sink"],
              "custom_params": {"streams": 1, "frames": 1, "width": 0, "height": 0, "stream_prefix": "a/b"}},
      "sink": {"class_name": "Recorder"}})"));
  Status started = inputs.Start();
  EXPECT_FALSE(started);
  EXPECT_NE(started.message().find("invalid stream id 'a/b0'"), std::string::npos) << started.message();
}

}  // namespace
}  // namespace vstream
