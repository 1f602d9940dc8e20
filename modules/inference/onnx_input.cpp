#include "onnx_input.hpp"

#include <fstream>
#include <iterator>
#include <set>
#include <string_view>

namespace vstream::detail {
namespace {

// Protocol-buffer wire format: (field << 3 | wire type) keys, varints, length-delimited bytes.
class Reader {
 public:
  Reader(const uint8_t* begin, const uint8_t* end) : p_(begin), end_(end) {}
  bool done() const { return p_ >= end_; }

  bool Varint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      const uint8_t byte = *p_++;
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool Key(uint32_t* field, uint32_t* wire) {
    uint64_t key = 0;
    if (!Varint(&key)) return false;
    *field = static_cast<uint32_t>(key >> 3);
    *wire = static_cast<uint32_t>(key & 7);
    return true;
  }
  bool Bytes(Reader* inner) {
    uint64_t length = 0;
    if (!Varint(&length) || length > static_cast<uint64_t>(end_ - p_)) return false;
    *inner = Reader(p_, p_ + length);
    p_ += length;
    return true;
  }
  bool Skip(uint32_t wire) {
    uint64_t ignored = 0;
    Reader inner(nullptr, nullptr);
    switch (wire) {
      case 0: return Varint(&ignored);
      case 1: return Advance(8);
      case 2: return Bytes(&inner);
      case 5: return Advance(4);
      default: return false;
    }
  }
  std::string_view Text() const { return {reinterpret_cast<const char*>(p_), static_cast<size_t>(end_ - p_)}; }

 private:
  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

// Calls `visit(field, reader_of_value)` for every length-delimited field; skips the rest.
template <typename Visit>
bool ForEachMessage(Reader reader, Visit visit) {
  while (!reader.done()) {
    uint32_t field = 0;
    uint32_t wire = 0;
    if (!reader.Key(&field, &wire)) return false;
    if (wire == 2) {
      Reader inner(nullptr, nullptr);
      if (!reader.Bytes(&inner)) return false;
      visit(field, inner);
    } else if (!reader.Skip(wire)) {
      return false;
    }
  }
  return true;
}

bool ReadDims(Reader shape, std::vector<int64_t>* dims) {
  return ForEachMessage(shape, [&](uint32_t field, Reader dim) {
    if (field != 1) return;  // TensorShapeProto.dim
    int64_t value = -1;
    while (!dim.done()) {
      uint32_t f = 0;
      uint32_t w = 0;
      if (!dim.Key(&f, &w)) break;
      if (f == 1 && w == 0) {  // Dimension.dim_value
        uint64_t v = 0;
        if (!dim.Varint(&v)) break;
        value = static_cast<int64_t>(v) > 0 ? static_cast<int64_t>(v) : -1;
      } else if (!dim.Skip(w)) {
        break;
      }
    }
    dims->push_back(value);
  });
}

}  // namespace

bool ReadOnnxInput(const std::filesystem::path& model, std::string* name, std::vector<int64_t>* shape) {
  std::ifstream in(model, std::ios::binary);
  if (!in) return false;
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  Reader root(bytes.data(), bytes.data() + bytes.size());
  struct Input {
    std::string name;
    std::vector<int64_t> dims;
  };
  std::vector<Input> inputs;
  std::set<std::string> initializers;
  bool found_graph = false;
  const bool ok = ForEachMessage(root, [&](uint32_t field, Reader graph) {
    if (field != 7) return;  // ModelProto.graph
    found_graph = true;
    ForEachMessage(graph, [&](uint32_t graph_field, Reader value) {
      if (graph_field == 5) {  // GraphProto.initializer (TensorProto): its name is field 8
        ForEachMessage(value, [&](uint32_t f, Reader text) {
          if (f == 8) initializers.insert(std::string(text.Text()));
        });
      } else if (graph_field == 11) {  // GraphProto.input (ValueInfoProto)
        Input input;
        ForEachMessage(value, [&](uint32_t f, Reader inner) {
          if (f == 1) input.name = std::string(inner.Text());
          if (f != 2) return;  // ValueInfoProto.type
          ForEachMessage(inner, [&](uint32_t type_field, Reader tensor) {
            if (type_field != 1) return;  // TypeProto.tensor_type
            ForEachMessage(tensor, [&](uint32_t tensor_field, Reader dims) {
              if (tensor_field == 2) ReadDims(dims, &input.dims);  // Tensor.shape
            });
          });
        });
        inputs.push_back(std::move(input));
      }
    });
  });
  if (!ok || !found_graph) return false;
  for (const auto& input : inputs) {
    if (initializers.count(input.name) != 0 || input.dims.empty()) continue;
    *name = input.name;
    *shape = input.dims;
    return true;
  }
  return false;
}

}  // namespace vstream::detail
