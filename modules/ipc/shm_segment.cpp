#include "shm_segment.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

namespace vstream::detail::ipc {

namespace bip = boost::interprocess;

struct ShmSegment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

namespace {
std::string Prefix() { return "vstream-" + std::to_string(::geteuid()) + "-"; }
}  // namespace

ShmSegment::~ShmSegment() {
  if (owner_) Remove();
}

void ShmSegment::Remove() {
  if (!name_.empty()) bip::shared_memory_object::remove(name_.c_str());
}

pid_t ShmSegment::OwnerOf(const std::string& name) {
  const std::string prefix = Prefix();
  if (name.rfind(prefix, 0) != 0) return -1;
  const std::string rest = name.substr(prefix.size());
  const size_t dash = rest.find('-');
  if (dash == std::string::npos || dash == 0) return -1;
  const std::string digits = rest.substr(0, dash);  // kept alive: `end` points into it
  char* end = nullptr;
  const long pid = std::strtol(digits.c_str(), &end, 10);
  return *end == '\0' && pid > 0 ? static_cast<pid_t>(pid) : -1;
}

Status ShmSegment::Create(size_t bytes, std::unique_ptr<ShmSegment>* out) {
  static std::atomic<uint64_t> counter{0};
  std::unique_ptr<ShmSegment> segment(new ShmSegment());
  segment->name_ = Prefix() + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  try {
    bip::permissions owner_only(0600);
    auto mapping = std::make_unique<Mapping>();
    mapping->object = bip::shared_memory_object(bip::create_only, segment->name_.c_str(), bip::read_write, owner_only);
    segment->owner_ = true;  // from here on the destructor removes the name
    mapping->object.truncate(static_cast<bip::offset_t>(bytes));
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
    segment->data_ = static_cast<uint8_t*>(mapping->region.get_address());
    segment->size_ = mapping->region.get_size();
    segment->mapping_ = std::move(mapping);
  } catch (const bip::interprocess_exception& e) {
    return {StatusCode::kRuntimeError, "cannot create shared memory '" + segment->name_ + "' of " + std::to_string(bytes) +
                                           " bytes: " + e.what() + " (is /dev/shm full?)"};
  }
  *out = std::move(segment);
  return Status::Ok();
}

Status ShmSegment::Open(const std::string& name, size_t bytes, std::unique_ptr<ShmSegment>* out) {
  if (OwnerOf(name) < 0) {
    return {StatusCode::kFailedState, "refused shared memory '" + name + "': not a vstream segment of this user"};
  }
  std::unique_ptr<ShmSegment> segment(new ShmSegment());
  segment->name_ = name;
  try {
    auto mapping = std::make_unique<Mapping>();
    mapping->object = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    bip::offset_t size = 0;
    if (!mapping->object.get_size(size) || static_cast<size_t>(size) < bytes) {
      return {StatusCode::kInvalidArgument, "shared memory '" + name + "' has " + std::to_string(size) +
                                                " bytes, fewer than the " + std::to_string(bytes) + " announced"};
    }
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
    segment->data_ = static_cast<uint8_t*>(mapping->region.get_address());
    segment->size_ = mapping->region.get_size();
    segment->mapping_ = std::move(mapping);
  } catch (const bip::interprocess_exception& e) {
    return {StatusCode::kNotFound, "cannot open shared memory '" + name + "': " + e.what()};
  }
  *out = std::move(segment);
  return Status::Ok();
}

int ShmSegment::RemoveStale() {
  int removed = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    const std::string name = entry.path().filename().string();
    const pid_t owner = OwnerOf(name);
    if (owner <= 0) continue;
    if (::kill(owner, 0) != 0 && errno == ESRCH) {  // its process is gone
      bip::shared_memory_object::remove(name.c_str());
      ++removed;
    }
  }
  return removed;
}

}  // namespace vstream::detail::ipc
