// The ModuleIPC wire protocol: what one side writes the other reads back exactly, and a malformed
// or hostile message is rejected with a reason, never read past its end.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "ipc_protocol.hpp"

namespace vstream::detail::ipc {
namespace {

FrameMessage SampleFrame() {
  FrameMessage f;
  f.sequence = 42;
  f.stream_id = "cam7";
  f.frame_index = 1234;
  f.pts = 987654321;
  f.time_base_num = 1;
  f.time_base_den = 90000;
  f.flags = kFrameInvalid;
  f.image = {3, 642, 362, static_cast<uint8_t>(PixelFormat::kNV12), {704, 704}, {0, 704u * 362}};
  DetectedObject face;
  face.box = {0.25f, 0.5f, 0.1f, 0.2f};
  face.label = "face";
  face.label_id = 0;
  face.score = 0.93f;
  face.track_id = 17;
  face.attributes["age"] = "31";
  face.attributes["mask"] = "no";
  face.features["keypoints"] = {0.1f, 0.2f, 0.3f};
  f.objects = {face, DetectedObject{}};
  f.user_data = {{"plate", "string", "B-AB 123"}};
  return f;
}

// Splits an encoded message into its payload after checking the header.
std::string PayloadOf(const std::string& message, MessageType expected) {
  MessageType type{};
  uint32_t size = 0;
  EXPECT_TRUE(DecodeHeader(reinterpret_cast<const uint8_t*>(message.data()), message.size(), &type, &size));
  EXPECT_EQ(type, expected);
  EXPECT_EQ(size + kHeaderSize, message.size());
  return message.substr(kHeaderSize);
}

TEST(IpcProtocol, FrameRoundTrip) {
  const FrameMessage sent = SampleFrame();
  const std::string payload = PayloadOf(EncodeFrame(sent), MessageType::kFrame);
  FrameMessage got;
  ASSERT_TRUE(DecodeFrame(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &got));
  EXPECT_EQ(got.sequence, 42u);
  EXPECT_EQ(got.stream_id, "cam7");
  EXPECT_EQ(got.frame_index, 1234);
  EXPECT_EQ(got.pts, 987654321);
  EXPECT_EQ(got.time_base_den, 90000);
  EXPECT_EQ(got.flags, static_cast<uint32_t>(kFrameInvalid));
  EXPECT_EQ(got.image.slot, 3u);
  EXPECT_EQ(got.image.offsets[1], 704u * 362);
  ASSERT_EQ(got.objects.size(), 2u);
  EXPECT_EQ(got.objects[0].label, "face");
  EXPECT_EQ(got.objects[0].track_id, 17);
  EXPECT_FLOAT_EQ(got.objects[0].box.h, 0.2f);
  EXPECT_EQ(got.objects[0].attributes, sent.objects[0].attributes);
  EXPECT_EQ(got.objects[0].features.at("keypoints"), sent.objects[0].features.at("keypoints"));
  ASSERT_EQ(got.user_data.size(), 1u);
  EXPECT_EQ(got.user_data[0].bytes, "B-AB 123");
}

TEST(IpcProtocol, SequenceAndSlotAreSetInPlace) {
  FrameMessage sent = SampleFrame();
  std::string message = EncodeFrame(sent);
  SetFrameSequenceAndSlot(&message, 0x0102030405060708ull, 39);
  const std::string payload = PayloadOf(message, MessageType::kFrame);
  FrameMessage got;
  ASSERT_TRUE(DecodeFrame(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &got));
  EXPECT_EQ(got.sequence, 0x0102030405060708ull);
  EXPECT_EQ(got.image.slot, 39u);
  // Everything else is what EncodeFrame wrote.
  sent.sequence = got.sequence;
  sent.image.slot = 39;
  EXPECT_EQ(message, EncodeFrame(sent));
}

TEST(IpcProtocol, ControlMessagesRoundTrip) {
  Hello hello{1234, 0xfeedbeefcafef00dull, 40, 1920u * 1080 * 3};
  std::string payload = PayloadOf(EncodeHello(hello), MessageType::kHello);
  Hello got_hello;
  ASSERT_TRUE(DecodeHello(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &got_hello));
  EXPECT_EQ(got_hello.client_id, hello.client_id);
  EXPECT_EQ(got_hello.slot_count, hello.slot_count);
  EXPECT_EQ(got_hello.slot_size, hello.slot_size);
  payload = PayloadOf(EncodeRelease({7, 99}), MessageType::kRelease);
  Release release;
  ASSERT_TRUE(DecodeRelease(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &release));
  EXPECT_EQ(release.slot, 7u);
  EXPECT_EQ(release.sequence, 99u);
  payload = PayloadOf(EncodeError("slot 9 of 4"), MessageType::kError);
  std::string reason;
  ASSERT_TRUE(DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &reason));
  EXPECT_EQ(reason, "slot 9 of 4");
  Welcome welcome;
  payload = PayloadOf(EncodeWelcome({12345}), MessageType::kWelcome);
  ASSERT_TRUE(DecodeWelcome(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &welcome));
  EXPECT_EQ(welcome.max_payload, 12345u);
  EXPECT_EQ(PayloadOf(EncodeBye(), MessageType::kBye), "");
}

TEST(IpcProtocol, EveryTruncationIsRejected) {
  const std::string payload = PayloadOf(EncodeFrame(SampleFrame()), MessageType::kFrame);
  for (size_t size = 0; size < payload.size(); ++size) {
    // A copy of exactly `size` bytes: reading one byte more would be caught by ASan.
    std::vector<uint8_t> cut(payload.begin(), payload.begin() + static_cast<ptrdiff_t>(size));
    FrameMessage f;
    Status s = DecodeFrame(cut.data(), cut.size(), &f);
    ASSERT_FALSE(s) << "accepted a frame cut to " << size << " bytes";
    ASSERT_NE(s.message().find("malformed frame"), std::string::npos) << s.message();
  }
  std::string longer = payload + "x";
  FrameMessage f;
  EXPECT_NE(DecodeFrame(reinterpret_cast<const uint8_t*>(longer.data()), longer.size(), &f).message().find("trailing"),
            std::string::npos);
}

TEST(IpcProtocol, GarbageIsRejectedNeverCrashes) {
  std::mt19937 random(2026);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes(random() % 300);
    for (auto& b : bytes) b = static_cast<uint8_t>(random());
    FrameMessage f;
    Hello h;
    accepted += DecodeFrame(bytes.data(), bytes.size(), &f).ok() ? 1 : 0;
    accepted += DecodeHello(bytes.data(), bytes.size(), &h).ok() ? 1 : 0;
  }
  EXPECT_LT(accepted, 20);  // random bytes almost never form a valid message
}

TEST(IpcProtocol, HostileHeadersAndCountsAreNamed) {
  auto header = [](uint32_t magic, uint16_t version, uint16_t type, uint32_t length) {
    std::vector<uint8_t> h(kHeaderSize);
    std::memcpy(&h[0], &magic, 4);
    std::memcpy(&h[4], &version, 2);
    std::memcpy(&h[6], &type, 2);
    std::memcpy(&h[8], &length, 4);
    return h;
  };
  MessageType type{};
  uint32_t size = 0;
  auto check = [&](std::vector<uint8_t> h, const std::string& expected) {
    Status s = DecodeHeader(h.data(), h.size(), &type, &size);
    EXPECT_FALSE(s);
    EXPECT_NE(s.message().find(expected), std::string::npos) << s.message();
  };
  check(header(0x12345678, kVersion, 3, 0), "bad magic");
  check(header(kMagic, 9, 3, 0), "protocol version 9");
  check(header(kMagic, kVersion, 77, 0), "unknown message type 77");
  check(header(kMagic, kVersion, 3, 1u << 30), "more than the limit");
  check({1, 2, 3}, "runs past the end");

  // A frame that claims two billion objects in a few bytes.
  std::string payload = PayloadOf(EncodeFrame(SampleFrame()), MessageType::kFrame);
  const size_t count_at = 8 + 4 + 4 + 8 + 8 + 4 + 4 + 4 + 4 + 4 + 4 + 1 + 2 * (4 + 8);
  const uint32_t huge = 2000000000u;
  std::memcpy(&payload[count_at], &huge, 4);
  FrameMessage f;
  Status s = DecodeFrame(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &f);
  EXPECT_NE(s.message().find("object count 2000000000 is more than the limit"), std::string::npos) << s.message();
  // A string that claims more bytes than the message has.
  payload = PayloadOf(EncodeFrame(SampleFrame()), MessageType::kFrame);
  const uint32_t long_id = 200;
  std::memcpy(&payload[8], &long_id, 4);
  s = DecodeFrame(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &f);
  EXPECT_FALSE(s) << "a stream id longer than the message";
  // Hello with slots of no size.
  Hello bad{1, 2, 4, 0};
  payload = PayloadOf(EncodeHello(bad), MessageType::kHello);
  Hello h;
  s = DecodeHello(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &h);
  EXPECT_NE(s.message().find("slot size out of range"), std::string::npos) << s.message();
  // Welcome carries the server's limit; a silly one is refused.
  payload = PayloadOf(EncodeWelcome({1u << 20}), MessageType::kWelcome);
  Welcome welcome;
  ASSERT_TRUE(DecodeWelcome(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &welcome));
  EXPECT_EQ(welcome.max_payload, 1u << 20);
  payload = PayloadOf(EncodeWelcome({10}), MessageType::kWelcome);
  EXPECT_FALSE(DecodeWelcome(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &welcome));
}

TEST(IpcProtocol, LayoutsMustFitInTheirSlot) {
  const uint64_t slot = 642u * 362 * 3;
  ImageLayout bgr{0, 642, 362, static_cast<uint8_t>(PixelFormat::kBGR24), {642 * 3, 0}, {0, 0}};
  EXPECT_TRUE(CheckLayout(bgr, 4, slot));
  ImageLayout beyond = bgr;
  beyond.slot = 4;
  EXPECT_NE(CheckLayout(beyond, 4, slot).message().find("slot 4 of 4"), std::string::npos);
  ImageLayout shifted = bgr;
  shifted.offsets[0] = 1;  // one byte further and the last row leaves the slot
  EXPECT_NE(CheckLayout(shifted, 4, slot).message().find("ends at byte"), std::string::npos);
  ImageLayout narrow = bgr;
  narrow.strides[0] = 100;
  EXPECT_NE(CheckLayout(narrow, 4, slot).message().find("smaller than a row"), std::string::npos);
  ImageLayout wrap = bgr;
  wrap.offsets[0] = ~uint64_t{0} - 10;  // an offset meant to overflow the end computation
  EXPECT_FALSE(CheckLayout(wrap, 4, slot));
  ImageLayout nv12{1, 64, 48, static_cast<uint8_t>(PixelFormat::kNV12), {64, 64}, {0, 64 * 48}};
  EXPECT_TRUE(CheckLayout(nv12, 2, 64 * 72));
  nv12.offsets[1] = 64 * 48 + 1;  // chroma runs one byte past the slot
  EXPECT_FALSE(CheckLayout(nv12, 2, 64 * 72));
  ImageLayout format = bgr;
  format.format = 99;
  EXPECT_NE(CheckLayout(format, 4, slot).message().find("unknown pixel format 99"), std::string::npos);
  ImageLayout none;
  EXPECT_TRUE(CheckLayout(none, 4, slot));  // no pixels: nothing to check
}

}  // namespace
}  // namespace vstream::detail::ipc
