#include "ipc_protocol.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace vstream::detail::ipc {
namespace {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I32(int32_t v) { Raw(&v, 4); }
  void I64(int64_t v) { Raw(&v, 8); }
  void F32(float v) { Raw(&v, 4); }
  void Str(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string Message(MessageType type) const {
    Writer header;
    header.U32(kMagic);
    header.U16(kVersion);
    header.U16(static_cast<uint16_t>(type));
    header.U32(static_cast<uint32_t>(out_.size()));
    return header.out_ + out_;
  }

 private:
  // The protocol is little-endian, as every machine vstream targets is.
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

// Every read checks what is left; the first failure sticks and names what was being read.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  bool U8(uint8_t* v, const char* what) { return Raw(v, 1, what); }
  bool U16(uint16_t* v, const char* what) { return Raw(v, 2, what); }
  bool U32(uint32_t* v, const char* what) { return Raw(v, 4, what); }
  bool U64(uint64_t* v, const char* what) { return Raw(v, 8, what); }
  bool I32(int32_t* v, const char* what) { return Raw(v, 4, what); }
  bool I64(int64_t* v, const char* what) { return Raw(v, 8, what); }
  bool F32(float* v, const char* what) {
    if (!Raw(v, 4, what)) return false;
    if (!std::isfinite(*v)) return Fail(std::string(what) + " is not a finite number");
    return true;
  }
  bool Str(std::string* s, size_t limit, const char* what) {
    uint32_t n = 0;
    if (!U32(&n, what)) return false;
    if (n > limit) return Fail(std::string(what) + " is " + std::to_string(n) + " bytes, more than the limit of " + std::to_string(limit));
    if (n > Left()) return Fail(std::string(what) + " runs past the end of the message");
    s->assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool Count(uint32_t* n, size_t limit, size_t min_bytes_each, const char* what) {
    if (!U32(n, what)) return false;
    if (*n > limit) return Fail(std::string(what) + " " + std::to_string(*n) + " is more than the limit of " + std::to_string(limit));
    // Each item takes at least `min_bytes_each`: a count the message cannot hold is a lie.
    if (min_bytes_each > 0 && static_cast<uint64_t>(*n) * min_bytes_each > Left()) {
      return Fail(std::string(what) + " " + std::to_string(*n) + " does not fit in what is left of the message");
    }
    return true;
  }
  bool Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    p_ = end_;
    return false;
  }
  size_t Left() const { return static_cast<size_t>(end_ - p_); }
  Status Finish(const char* message) const {
    if (!error_.empty()) return {StatusCode::kInvalidArgument, std::string(message) + ": " + error_};
    if (p_ != end_) return {StatusCode::kInvalidArgument, std::string(message) + ": " + std::to_string(Left()) + " unexpected trailing bytes"};
    return Status::Ok();
  }

 private:
  bool Raw(void* v, size_t n, const char* what) {
    if (Left() < n) return Fail(std::string(what) + " runs past the end of the message");
    std::memcpy(v, p_, n);
    p_ += n;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  std::string error_;
};

}  // namespace

std::string EncodeHello(const Hello& hello) {
  Writer w;
  w.U32(hello.pid);
  w.U64(hello.client_id);
  w.U32(hello.slot_count);
  w.U64(hello.slot_size);
  return w.Message(MessageType::kHello);
}

std::string EncodeWelcome(const Welcome& welcome) {
  Writer w;
  w.U32(welcome.max_payload);
  return w.Message(MessageType::kWelcome);
}
std::string EncodeBye() { return Writer().Message(MessageType::kBye); }

std::string EncodeError(const std::string& reason) {
  Writer w;
  w.Str(reason.substr(0, kMaxString));
  return w.Message(MessageType::kError);
}

std::string EncodeRelease(const Release& release) {
  Writer w;
  w.U32(release.slot);
  w.U64(release.sequence);
  return w.Message(MessageType::kRelease);
}

std::string EncodeFrame(const FrameMessage& f) {
  Writer w;
  w.U64(f.sequence);
  w.Str(f.stream_id);
  w.I64(f.frame_index);
  w.I64(f.pts);
  w.I32(f.time_base_num);
  w.I32(f.time_base_den);
  w.U32(f.flags);
  w.U32(f.image.slot);
  w.I32(f.image.width);
  w.I32(f.image.height);
  w.U8(f.image.format);
  for (int p = 0; p < 2; ++p) {
    w.I32(f.image.strides[p]);
    w.U64(f.image.offsets[p]);
  }
  w.U32(static_cast<uint32_t>(f.objects.size()));
  for (const auto& o : f.objects) {
    w.F32(o.box.x);
    w.F32(o.box.y);
    w.F32(o.box.w);
    w.F32(o.box.h);
    w.I32(o.label_id);
    w.Str(o.label);
    w.F32(o.score);
    w.I64(o.track_id);
    w.U32(static_cast<uint32_t>(o.attributes.size()));
    for (const auto& [k, v] : o.attributes) {
      w.Str(k);
      w.Str(v);
    }
    w.U32(static_cast<uint32_t>(o.features.size()));
    for (const auto& [name, values] : o.features) {
      w.Str(name);
      w.U32(static_cast<uint32_t>(values.size()));
      for (float v : values) w.F32(v);
    }
  }
  w.U32(static_cast<uint32_t>(f.user_data.size()));
  for (const auto& u : f.user_data) {
    w.Str(u.key);
    w.Str(u.codec);
    w.Str(u.bytes);
  }
  return w.Message(MessageType::kFrame);
}

void SetFrameSequenceAndSlot(std::string* m, uint64_t sequence, uint32_t slot) {
  // EncodeFrame's layout: header, sequence (8), stream id (4 + n), index, pts (8 + 8), time base
  // (4 + 4), flags (4), slot (4).
  std::memcpy(m->data() + kHeaderSize, &sequence, 8);
  uint32_t id_length = 0;
  std::memcpy(&id_length, m->data() + kHeaderSize + 8, 4);
  std::memcpy(m->data() + kHeaderSize + 8 + 4 + id_length + 28, &slot, 4);
}

Status DecodeHeader(const uint8_t* data, size_t size, MessageType* type, uint32_t* payload_size) {
  Reader r(data, size);
  uint32_t magic = 0;
  uint16_t version = 0;
  uint16_t raw_type = 0;
  if (!r.U32(&magic, "magic") || !r.U16(&version, "version") || !r.U16(&raw_type, "type") ||
      !r.U32(payload_size, "length")) {
    return r.Finish("malformed header");
  }
  if (magic != kMagic) return {StatusCode::kInvalidArgument, "malformed header: not a vstream IPC message (bad magic)"};
  if (version != kVersion) {
    return {StatusCode::kInvalidArgument, "peer speaks IPC protocol version " + std::to_string(version) + ", this side " +
                                              std::to_string(kVersion) + ": run the same vstream on both sides"};
  }
  if (raw_type < 1 || raw_type > 6) return {StatusCode::kInvalidArgument, "malformed header: unknown message type " + std::to_string(raw_type)};
  if (*payload_size > kMaxPayload) {
    return {StatusCode::kInvalidArgument, "malformed header: a " + std::to_string(*payload_size) +
                                              "-byte payload is more than the limit of " + std::to_string(kMaxPayload)};
  }
  *type = static_cast<MessageType>(raw_type);
  return Status::Ok();
}

Status DecodeHello(const uint8_t* payload, size_t size, Hello* out) {
  Reader r(payload, size);
  r.U32(&out->pid, "pid") && r.U64(&out->client_id, "client id") && r.U32(&out->slot_count, "slot count") &&
      r.U64(&out->slot_size, "slot size");
  if (Status s = r.Finish("malformed hello"); !s) return s;
  // A client that has not sent an image yet has no segment: count and size are both 0.
  if (out->slot_count == 0 && out->slot_size == 0) return Status::Ok();
  if (out->slot_count == 0 || out->slot_count > 65536) return {StatusCode::kInvalidArgument, "malformed hello: slot count out of range"};
  if (out->slot_size == 0 || out->slot_size > (uint64_t{1} << 32)) return {StatusCode::kInvalidArgument, "malformed hello: slot size out of range"};
  return Status::Ok();
}

Status DecodeWelcome(const uint8_t* payload, size_t size, Welcome* out) {
  Reader r(payload, size);
  r.U32(&out->max_payload, "max payload");
  if (Status s = r.Finish("malformed welcome"); !s) return s;
  if (out->max_payload < 1024) return {StatusCode::kInvalidArgument, "malformed welcome: a frame limit of " + std::to_string(out->max_payload) + " bytes"};
  return Status::Ok();
}

Status DecodeRelease(const uint8_t* payload, size_t size, Release* out) {
  Reader r(payload, size);
  r.U32(&out->slot, "slot") && r.U64(&out->sequence, "sequence");
  return r.Finish("malformed release");
}

Status DecodeError(const uint8_t* payload, size_t size, std::string* reason) {
  Reader r(payload, size);
  r.Str(reason, kMaxString, "reason");
  return r.Finish("malformed error message");
}

Status DecodeFrame(const uint8_t* payload, size_t size, FrameMessage* f) {
  Reader r(payload, size);
  bool ok = r.U64(&f->sequence, "sequence") && r.Str(&f->stream_id, 256, "stream id") &&
            r.I64(&f->frame_index, "frame index") && r.I64(&f->pts, "pts") && r.I32(&f->time_base_num, "time base") &&
            r.I32(&f->time_base_den, "time base") && r.U32(&f->flags, "flags") && r.U32(&f->image.slot, "slot") &&
            r.I32(&f->image.width, "width") && r.I32(&f->image.height, "height") && r.U8(&f->image.format, "format");
  for (int p = 0; ok && p < 2; ++p) ok = r.I32(&f->image.strides[p], "stride") && r.U64(&f->image.offsets[p], "offset");
  uint32_t objects = 0;
  // An object takes at least 4 floats + label id + label length + score + track id + two counts.
  ok = ok && r.Count(&objects, kMaxObjects, 44, "object count");
  f->objects.clear();
  for (uint32_t i = 0; ok && i < objects; ++i) {
    DetectedObject o;
    ok = r.F32(&o.box.x, "box") && r.F32(&o.box.y, "box") && r.F32(&o.box.w, "box") && r.F32(&o.box.h, "box") &&
         r.I32(&o.label_id, "label id") && r.Str(&o.label, kMaxString, "label") && r.F32(&o.score, "score") &&
         r.I64(&o.track_id, "track id");
    uint32_t attributes = 0;
    ok = ok && r.Count(&attributes, kMaxAttributes, 8, "attribute count");
    for (uint32_t a = 0; ok && a < attributes; ++a) {
      std::string key;
      std::string value;
      ok = r.Str(&key, kMaxString, "attribute name") && r.Str(&value, kMaxString, "attribute value");
      if (ok) o.attributes[key] = value;
    }
    uint32_t features = 0;
    ok = ok && r.Count(&features, kMaxAttributes, 8, "feature count");
    for (uint32_t k = 0; ok && k < features; ++k) {
      std::string name;
      uint32_t count = 0;
      ok = r.Str(&name, kMaxString, "feature name") && r.Count(&count, kMaxFeatureValues, 4, "feature length");
      std::vector<float> values(ok ? count : 0);
      for (uint32_t v = 0; ok && v < count; ++v) ok = r.F32(&values[v], "feature value");
      if (ok) o.features[name] = std::move(values);
    }
    if (ok) f->objects.push_back(std::move(o));
  }
  uint32_t entries = 0;
  ok = ok && r.Count(&entries, kMaxUserData, 12, "user data count");
  f->user_data.clear();
  for (uint32_t i = 0; ok && i < entries; ++i) {
    UserDataBlob u;
    ok = r.Str(&u.key, kMaxString, "user data key") && r.Str(&u.codec, kMaxString, "user data codec") &&
         r.Str(&u.bytes, kMaxUserDataBytes, "user data");
    if (ok) f->user_data.push_back(std::move(u));
  }
  if (Status s = r.Finish("malformed frame"); !s) return s;
  if (f->stream_id.empty()) return {StatusCode::kInvalidArgument, "malformed frame: empty stream id"};
  if (f->time_base_num <= 0 || f->time_base_den <= 0) return {StatusCode::kInvalidArgument, "malformed frame: time base must be positive"};
  for (const auto& o : f->objects) {
    const auto& b = o.box;
    if (b.x < -1 || b.y < -1 || b.w < 0 || b.h < 0 || b.x > 2 || b.y > 2 || b.w > 3 || b.h > 3) {
      return {StatusCode::kInvalidArgument, "malformed frame: an object box is far outside the frame"};
    }
  }
  return Status::Ok();
}

Status CheckLayout(const ImageLayout& l, uint32_t slot_count, uint64_t slot_size) {
  auto bad = [](const std::string& why) { return Status(StatusCode::kInvalidArgument, "malformed frame: " + why); };
  if (l.slot == kNoSlot) return Status::Ok();
  if (l.slot >= slot_count) return bad("slot " + std::to_string(l.slot) + " of " + std::to_string(slot_count));
  const auto format = static_cast<PixelFormat>(l.format);
  if (format != PixelFormat::kBGR24 && format != PixelFormat::kRGB24 && format != PixelFormat::kNV12 &&
      format != PixelFormat::kGray8) {
    return bad("unknown pixel format " + std::to_string(l.format));
  }
  if (l.width <= 0 || l.height <= 0 || l.width > 65536 || l.height > 65536) return bad("image size out of range");
  const int planes = format == PixelFormat::kNV12 ? 2 : 1;
  for (int p = 0; p < planes; ++p) {
    const uint64_t bytes_per_pixel = format == PixelFormat::kBGR24 || format == PixelFormat::kRGB24 ? 3 : 1;
    const uint64_t row = p == 1 ? (static_cast<uint64_t>(l.width) + 1) / 2 * 2 : static_cast<uint64_t>(l.width) * bytes_per_pixel;
    const uint64_t rows = p == 1 ? (static_cast<uint64_t>(l.height) + 1) / 2 : static_cast<uint64_t>(l.height);
    if (l.strides[p] <= 0 || static_cast<uint64_t>(l.strides[p]) < row) return bad("a stride is smaller than a row");
    // All in 64-bit with small operands: no overflow. The last row needs only `row` bytes.
    const uint64_t end = l.offsets[p] + static_cast<uint64_t>(l.strides[p]) * (rows - 1) + row;
    if (l.offsets[p] > slot_size || end > slot_size) {
      return bad("the image's plane " + std::to_string(p) + " ends at byte " + std::to_string(end) + " of a " +
                 std::to_string(slot_size) + "-byte slot");
    }
  }
  return Status::Ok();
}

}  // namespace vstream::detail::ipc
