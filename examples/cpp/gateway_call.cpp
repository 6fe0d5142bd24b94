// Reading a failed call, and the request IDs and environment of the example
// (gateway_call.h).
#include "gateway_call.h"

#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <random>
#include <sstream>

#include "google/rpc/code.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace example {

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string NewRequestId() {
  std::random_device random;
  unsigned char bytes[16];
  for (int i = 0; i < 16; i += 4) {
    const std::uint32_t r = random();
    for (int j = 0; j < 4; ++j) bytes[i + j] = static_cast<unsigned char>(r >> (8 * j));
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  std::ostringstream out;
  out << std::hex << std::setfill('0');
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out << '-';
    out << std::setw(2) << static_cast<int>(bytes[i]);
  }
  return out.str();
}

std::string CallError::CodeName() const { return google::rpc::Code_Name(static_cast<google::rpc::Code>(code)); }

CallError Decode(const grpc::Status& status) {
  CallError error;
  error.code = status.error_code();
  error.message = status.error_message();
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return error;
  for (const google::protobuf::Any& any : details.details()) {
    if (google::rpc::ErrorInfo info; any.UnpackTo(&info)) {
      error.reason_name = info.reason();
      // Reason strings are ErrorReason value names; one a newer gateway added does not parse.
      gamelift::streams::v1::ErrorReason_Parse(error.reason_name, &error.reason);
    } else if (google::rpc::RetryInfo retry; any.UnpackTo(&retry)) {
      error.retry_delay = std::chrono::seconds(retry.retry_delay().seconds()) +
                          std::chrono::duration_cast<milliseconds>(std::chrono::nanoseconds(retry.retry_delay().nanos()));
    } else if (google::rpc::BadRequest bad; any.UnpackTo(&bad)) {
      for (const auto& violation : bad.field_violations()) error.fields.push_back(violation.field());
    }
  }
  return error;
}

Failure Failed(const std::string& call, const grpc::Status& status) {
  const CallError error = Decode(status);
  return Failure(call + ": " + error.Describe() + " (" + error.message + ")");
}

}  // namespace example
