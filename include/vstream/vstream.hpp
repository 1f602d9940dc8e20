// The whole public API of vstream in one include (opencv.hpp and ffmpeg.hpp, which need those
// libraries, are included on their own).
//
//   #include <vstream/vstream.hpp>
//   vstream::Pipeline pipeline;
//   pipeline.BuildFromFile("pipeline.json");
#pragma once

#include "vstream/buffer.hpp"
#include "vstream/capacity.hpp"
#include "vstream/config.hpp"
#include "vstream/detected_object.hpp"
#include "vstream/events.hpp"
#include "vstream/frame.hpp"
#include "vstream/geometry.hpp"
#include "vstream/log.hpp"
#include "vstream/module.hpp"
#include "vstream/module_runner.hpp"
#include "vstream/named_registry.hpp"
#include "vstream/params.hpp"
#include "vstream/pipeline.hpp"
#include "vstream/plugin.hpp"
#include "vstream/registry.hpp"
#include "vstream/skip_condition.hpp"
#include "vstream/stats.hpp"
#include "vstream/status.hpp"
#include "vstream/stream_id.hpp"
#include "vstream/text.hpp"
#include "vstream/user_data.hpp"
#include "vstream/user_data_codec.hpp"
#include "vstream/version.hpp"
#include "vstream/video_frame.hpp"
