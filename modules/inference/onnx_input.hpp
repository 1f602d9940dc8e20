// Reads the input shape an ONNX model declares, without a protobuf library: the few fields on the
// path ModelProto.graph.input[].type.tensor_type.shape.dim are walked by hand (private).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vstream::detail {

/// The first graph input that is not an initializer: its name and dimensions (-1 for a symbolic or
/// missing dimension). False when the file is not an ONNX model or declares no input shape.
bool ReadOnnxInput(const std::filesystem::path& model, std::string* name, std::vector<int64_t>* shape);

}  // namespace vstream::detail
