#include "vstream/modules/osd.hpp"

#include <cstdio>
#include <fstream>

#include <opencv2/imgproc.hpp>

#include "vstream/opencv.hpp"
#include "vstream/registry.hpp"
#include "vstream/text.hpp"

namespace vstream {

ModuleDescription Osd::Describe() {
  return {"Draws boxes, labels, scores, track ids, keypoints and per-stream fps onto the frames.",
          {ParamSpec::Int("thickness", 2, "line thickness in pixels").Range(1, 50),
           ParamSpec::Double("font_scale", 0.5, "text size (OpenCV font scale)").Range(0.1, 10),
           ParamSpec::Bool("show_labels", true, "write each object's label"),
           ParamSpec::Bool("show_scores", true, "write each object's score"),
           ParamSpec::Bool("show_track_ids", true, "write each object's track id (when it has one)"),
           ParamSpec::Bool("show_keypoints", true, "draw the object's \"keypoints\" feature (x, y pairs)"),
           ParamSpec::Bool("show_fps", true, "write the stream's frame rate in the top-left corner"),
           ParamSpec::Path("label_path", "",
                           "text file of label names, one per line: an object with label_id N is labelled with "
                           "line N (from 0); objects whose id has no line keep their own label")},
          R"(Colours follow the track id (or the label when there is no track), so one object keeps its
colour while it is tracked. The frame rate is measured per stream over one-second windows, as
frames pass the Osd. Frames in NV12 or GRAY8 are converted to BGR24 (the frame's image is
replaced by the annotated copy).

The label written for an object is line `label_id` of `label_path` when it has one (CNStream's Osd
names objects this way), else the object's own label (the Inferencer's `labels_path`), else its
label id. CNStream's other Osd settings are translated when a config is read (see the CNStream
table in [config.md](../config.md#cnstream-configs)).

The drawing is seen by the modules after the Osd, and by no other branch: where a fan-out also
hands the frame to another branch, the Osd draws on a copy of its own (`Module::MakeWritable`) and
the other branch keeps the frame as it was. Such a copy cannot go on to a module that joins this
branch with the others again; put the Osd after the join (an error says so otherwise).)"};
}

Status Osd::Open(const ModuleParams& params) {
  thickness_ = static_cast<int>(params.GetInt("thickness"));
  font_scale_ = params.GetDouble("font_scale");
  labels_ = params.GetBool("show_labels");
  scores_ = params.GetBool("show_scores");
  track_ids_ = params.GetBool("show_track_ids");
  keypoints_ = params.GetBool("show_keypoints");
  fps_ = params.GetBool("show_fps");
  label_names_.clear();
  if (params.Has("label_path")) {
    std::ifstream in(params.GetPath("label_path"));
    if (!in) return Fail("label_path: cannot read '" + params.GetPath("label_path").string() + "'");
    for (std::string line; std::getline(in, line);) label_names_.push_back(vstream::Trim(line));
    while (!label_names_.empty() && label_names_.back().empty()) label_names_.pop_back();
  }
  rates_.Reset(parallelism());
  return {};
}

void Osd::Close() { rates_.Clear(); }

namespace {
cv::Scalar ColourFor(int64_t key) {
  static const cv::Scalar kPalette[] = {{80, 220, 60},  {40, 160, 255}, {255, 120, 40}, {200, 60, 220},
                                        {60, 220, 220}, {255, 200, 60}, {120, 80, 255}, {60, 120, 60}};
  return kPalette[static_cast<size_t>(key < 0 ? -key : key) % 8];
}
}  // namespace

std::string Osd::LabelOf(const DetectedObject& object) const {
  if (object.label_id >= 0 && static_cast<size_t>(object.label_id) < label_names_.size()) {
    return label_names_[static_cast<size_t>(object.label_id)];
  }
  return object.label.empty() ? std::to_string(object.label_id) : object.label;
}

Status Osd::Process(FramePtr frame) {
  if (frame->IsEos()) {
    rates_.Erase(frame->stream_id);
    return {};
  }
  if (frame->image.empty()) return {};
  // Draw in colour: NV12 and GRAY8 become a converted copy, which is the frame's own already, so
  // only the frame (not its pixels) must be made ours; other formats are drawn on in place.
  const bool convert = frame->image.format() == PixelFormat::kNV12 || frame->image.format() == PixelFormat::kGray8;
  if (Status s = MakeWritable(frame, convert ? ImageAccess::kReplaceImage : ImageAccess::kWritePixels); !s) return s;
  VideoFrame& image = frame->image;
  if (convert) image = FromMat(ToBgrMat(image));
  cv::Mat canvas = ToMat(image);
  const bool rgb = image.format() == PixelFormat::kRGB24;
  auto colour = [&](cv::Scalar c) { return rgb ? cv::Scalar(c[2], c[1], c[0]) : c; };
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  {
    auto lock = frame->LockObjects();
    for (const auto& object : frame->objects) {
      const cv::Rect box(static_cast<int>(object.box.x * canvas.cols), static_cast<int>(object.box.y * canvas.rows),
                         static_cast<int>(object.box.w * canvas.cols), static_cast<int>(object.box.h * canvas.rows));
      const cv::Scalar c = colour(ColourFor(object.track_id >= 0 ? object.track_id : object.label_id));
      cv::rectangle(canvas, box, c, thickness_);
      if (keypoints_) {
        if (auto it = object.features.find("keypoints"); it != object.features.end()) {
          for (size_t k = 0; k + 1 < it->second.size(); k += 2) {
            cv::circle(canvas, cv::Point(static_cast<int>(it->second[k] * canvas.cols),
                                         static_cast<int>(it->second[k + 1] * canvas.rows)),
                       thickness_ + 1, c, cv::FILLED);
          }
        }
      }
      std::string text;
      if (labels_) text += LabelOf(object);
      if (scores_) {
        char score[16];
        std::snprintf(score, sizeof(score), "%s%.2f", text.empty() ? "" : " ", object.score);
        text += score;
      }
      if (track_ids_ && object.track_id >= 0) text += (text.empty() ? "#" : " #") + std::to_string(object.track_id);
      if (text.empty()) continue;
      int baseline = 0;
      const cv::Size size = cv::getTextSize(text, font, font_scale_, 1, &baseline);
      const cv::Point origin(box.x, std::max(size.height + 2, box.y - 3));
      cv::rectangle(canvas, cv::Rect(origin.x, origin.y - size.height - 2, size.width + 2, size.height + baseline + 2), c,
                    cv::FILLED);
      cv::putText(canvas, text, cv::Point(origin.x + 1, origin.y), font, font_scale_, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
  }
  if (fps_) {
    Rate& rate = rates_[frame->stream_id];
    const auto now = std::chrono::steady_clock::now();
    if (rate.frames == 0) rate.window_start = now;
    ++rate.frames;
    const double seconds = std::chrono::duration<double>(now - rate.window_start).count();
    if (seconds >= 1.0) {
      rate.fps = (rate.frames - 1) / seconds;
      rate.frames = 1;
      rate.window_start = now;
    }
    char text[64];
    std::snprintf(text, sizeof(text), "%s  %.1f fps", frame->stream_id.c_str(), rate.fps);
    cv::putText(canvas, text, cv::Point(8, 22), font, font_scale_ * 1.2, cv::Scalar(0, 0, 0), 3, cv::LINE_AA);
    cv::putText(canvas, text, cv::Point(8, 22), font, font_scale_ * 1.2, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  }
  return {};
}

VSTREAM_REGISTER_MODULE(Osd);

}  // namespace vstream
