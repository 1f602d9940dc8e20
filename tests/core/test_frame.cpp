// The frame data model: buffers (heap, pool, external), images, user data, cv::Mat views.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <thread>

#include "vstream/frame.hpp"
#include "vstream/opencv.hpp"

namespace vstream {
namespace {

TEST(Buffer, HeapBufferIsAlignedAndSized) {
  BufferPtr buffer = Buffer::Allocate(1000);
  EXPECT_EQ(buffer->size(), 1000u);
  EXPECT_EQ(buffer->kind(), MemoryKind::kHeap);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer->data()) % 64, 0u);
}

TEST(Buffer, WrappedMemoryIsReleasedOnceWhenTheLastReferenceGoes) {
  int releases = 0;
  uint8_t storage[16];
  BufferPtr buffer = Buffer::Wrap(storage, sizeof(storage), [&] { ++releases; });
  BufferPtr copy = buffer;
  buffer.reset();
  EXPECT_EQ(releases, 0);
  copy.reset();
  EXPECT_EQ(releases, 1);
}

TEST(Frame, DestroyHooksRunOnceWhenTheLastReferenceGoes) {
  std::vector<int> ran;
  FramePtr frame = Frame::Create("cam", 0);
  frame->OnDestroy([&] { ran.push_back(1); });
  frame->OnDestroy([&] { ran.push_back(2); });
  FramePtr branch = frame;
  frame.reset();
  EXPECT_TRUE(ran.empty());
  branch.reset();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
}

TEST(BufferPool, RecyclesBlocksAndBoundsTheirNumber) {
  auto pool = BufferPool::Create(4096, 2);
  BufferPtr a = pool->Acquire();
  BufferPtr b = pool->Acquire();
  EXPECT_EQ(a->kind(), MemoryKind::kPool);
  EXPECT_EQ(pool->TryAcquire(), nullptr);  // both blocks are out
  const uint8_t* a_data = a->data();
  a.reset();
  BufferPtr c = pool->TryAcquire();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->data(), a_data);  // the same block came back
  EXPECT_EQ(pool->available(), 0u);
}

TEST(BufferPool, AcquireWaitsForAReleaseFromAnotherThread) {
  auto pool = BufferPool::Create(64, 1);
  BufferPtr held = pool->Acquire();
  std::thread releaser([&] { held.reset(); });
  BufferPtr next = pool->Acquire();  // returns once the other thread released its buffer
  releaser.join();
  EXPECT_NE(next, nullptr);
}

TEST(BufferPool, BuffersOutliveTheirPool) {
  auto pool = BufferPool::Create(64, 1);
  BufferPtr buffer = pool->Acquire();
  pool.reset();
  buffer->data()[0] = 1;  // still valid; freed on release (ASan checks)
  buffer.reset();
}

TEST(VideoFrame, PackedLayoutsPerFormat) {
  VideoFrame bgr = VideoFrame::Allocate(642, 362, PixelFormat::kBGR24);
  EXPECT_EQ(bgr.plane_count(), 1);
  EXPECT_EQ(bgr.stride(0), 642 * 3);
  EXPECT_EQ(bgr.buffer()->size(), 642u * 362 * 3);

  VideoFrame nv12 = VideoFrame::Allocate(642, 362, PixelFormat::kNV12);
  EXPECT_EQ(nv12.plane_count(), 2);
  EXPECT_EQ(nv12.plane_rows(1), 181);
  EXPECT_EQ(nv12.offset(1), 642u * 362);
  EXPECT_EQ(nv12.buffer()->size(), 642u * 362 * 3 / 2);

  EXPECT_EQ(VideoFrame::PackedSize(4, 4, PixelFormat::kGray8), 16u);
}

TEST(VideoFrame, WrapChecksTheLayoutFitsTheBuffer) {
  VideoFrame out;
  Status s = VideoFrame::Wrap(Buffer::Allocate(100), 10, 10, PixelFormat::kBGR24, {0, 0}, {0, 0}, &out);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("buffer has 100"), std::string::npos) << s.message();
  s = VideoFrame::Wrap(Buffer::Allocate(4096), 10, 10, PixelFormat::kBGR24, {20, 0}, {0, 0}, &out);
  EXPECT_NE(s.message().find("smaller than a row"), std::string::npos) << s.message();
  // Padded rows (stride 64) fit in 64 * 9 + 30 bytes.
  EXPECT_TRUE(VideoFrame::Wrap(Buffer::Allocate(64 * 9 + 30), 10, 10, PixelFormat::kBGR24, {64, 0}, {0, 0}, &out));
  EXPECT_EQ(out.stride(0), 64);
}

TEST(VideoFrame, PixelFormatNamesRoundTrip) {
  for (PixelFormat f : {PixelFormat::kBGR24, PixelFormat::kRGB24, PixelFormat::kNV12, PixelFormat::kGray8}) {
    EXPECT_EQ(ParsePixelFormat(PixelFormatName(f)), f);
  }
  EXPECT_EQ(ParsePixelFormat("BGR"), PixelFormat::kBGR24);
  EXPECT_EQ(ParsePixelFormat("yuv444"), PixelFormat::kNone);
}

TEST(VideoFrame, CloneCopiesPixelsIntoNewMemory) {
  VideoFrame a = VideoFrame::Allocate(8, 4, PixelFormat::kGray8);
  std::fill(a.plane(0), a.plane(0) + 32, 9);
  VideoFrame b = a.Clone();
  EXPECT_NE(a.plane(0), b.plane(0));
  EXPECT_EQ(b.plane(0)[31], 9);
}

TEST(CvMatView, SharesPixelsWithTheFrame) {
  VideoFrame image = VideoFrame::Allocate(64, 32, PixelFormat::kBGR24);
  cv::Mat view = ToMat(image);
  ASSERT_EQ(view.type(), CV_8UC3);
  EXPECT_EQ(view.cols, 64);
  EXPECT_EQ(view.rows, 32);
  EXPECT_EQ(view.data, image.plane(0));  // no copy
  view.setTo(cv::Scalar(1, 2, 3));
  EXPECT_EQ(image.plane(0)[0], 1);
  EXPECT_EQ(image.plane(0)[2], 3);
}

TEST(CvMatView, Nv12IsOneMatOfOneAndAHalfHeights) {
  VideoFrame image = VideoFrame::Allocate(64, 32, PixelFormat::kNV12);
  cv::Mat view = ToMat(image);
  EXPECT_EQ(view.rows, 48);
  EXPECT_EQ(view.type(), CV_8UC1);
  cv::Mat chroma = PlaneToMat(image, 1);
  EXPECT_EQ(chroma.type(), CV_8UC2);
  EXPECT_EQ(chroma.cols, 32);
  EXPECT_EQ(chroma.rows, 16);
}

TEST(CvMatView, FromMatKeepsTheMatAlive) {
  VideoFrame image;
  {
    cv::Mat mat(10, 20, CV_8UC3, cv::Scalar(5, 6, 7));
    image = FromMat(mat);
  }
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.width(), 20);
  EXPECT_EQ(image.plane(0)[1], 6);  // the Mat's pixels are still there (ASan checks)
}

TEST(UserData, TypedValuesAndMismatches) {
  FramePtr frame = Frame::Create("cam1", 3);
  frame->data.Set("count", 42);
  frame->data.Set("text", std::string("plate"));
  ASSERT_NE(frame->data.Get<int>("count"), nullptr);
  EXPECT_EQ(*frame->data.Get<int>("count"), 42);
  EXPECT_EQ(frame->data.Get<double>("count"), nullptr);  // wrong type
  EXPECT_EQ(frame->data.Get<int>("missing"), nullptr);
  EXPECT_EQ(*frame->data.Get<std::string>("text"), "plate");
  EXPECT_TRUE(frame->data.Erase("count"));
  EXPECT_FALSE(frame->data.Has("count"));
  EXPECT_EQ(frame->data.Keys(), std::vector<std::string>{"text"});
}

TEST(Frame, EosAndTimestamps) {
  FramePtr eos = Frame::CreateEos("cam1", 10);
  EXPECT_TRUE(eos->IsEos());
  EXPECT_EQ(eos->frame_index, 10);
  FramePtr frame = Frame::Create("cam1", 0);
  frame->pts = 90000;
  frame->time_base = {1, 90000};
  EXPECT_DOUBLE_EQ(frame->timestamp(), 1.0);
  DetectedObject face;
  face.box = {0.1f, 0.2f, 0.3f, 0.4f};
  face.label = "face";
  {
    auto lock = frame->LockObjects();
    frame->objects.push_back(face);
  }
  EXPECT_EQ(frame->objects.size(), 1u);
  EXPECT_EQ(frame->objects[0].track_id, -1);
}

}  // namespace
}  // namespace vstream
