// How the example calls the gateway, for both of its services
// (StreamSessions and Stages): a deadline and the token on every call, a
// request_id made once per mutating call, UNAVAILABLE retried after its
// RetryInfo delay, and a failed call read from its google.rpc details.
// Nothing here knows either service's messages.
#pragma once

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gamelift/streams/v1/error_reason.pb.h"

namespace example {

using std::chrono::milliseconds;

// An unexpected failure: main prints "failed: <what>" and exits 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The environment variable `name`, or `fallback` when unset or empty.
std::string Env(const char* name, const char* fallback);

// A random UUID (version 4), the usual form of a request_id.
std::string NewRequestId();

// A failed call as the gateway describes it: the gRPC code, and the
// google.rpc.Status it sends in the grpc-status-details-bin trailer, which
// grpc::Status::error_details() returns serialized.
struct CallError {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string reason_name;  // google.rpc.ErrorInfo's reason, as sent
  // Parsed as a StreamSessions reason; UNSPECIFIED for a name this code lacks.
  // A Stages call parses reason_name with ivs::realtime::v1::ErrorReason_Parse.
  gamelift::streams::v1::ErrorReason reason = gamelift::streams::v1::ERROR_REASON_UNSPECIFIED;
  milliseconds retry_delay{0};      // google.rpc.RetryInfo: wait this long before retrying
  std::vector<std::string> fields;  // google.rpc.BadRequest: the fields at fault

  std::string CodeName() const;
  std::string Describe() const { return "code=" + CodeName() + " reason=" + reason_name; }
};

CallError Decode(const grpc::Status& status);

// The Failure for an unexpected error of `call`.
Failure Failed(const std::string& call, const grpc::Status& status);

// What every call carries: a deadline (without one, a call to a stuck peer
// waits forever) and, when the sidecar requires one, the bearer token.
class CallSettings {
 public:
  explicit CallSettings(std::string token) : token_(std::move(token)) {}

  void Prepare(grpc::ClientContext& context, milliseconds timeout) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  }

 private:
  std::string token_;
};

// Makes `call` (a grpc::Status(grpc::ClientContext&), sending the same
// request, with its request_id, every time) until it succeeds, and answers
// how many attempts it took. UNAVAILABLE is always safe to retry with the
// same request_id, after the RetryInfo delay; each failed attempt prints
// "<name>: attempt <n> failed: ...". Anything else is not for this code to
// fix: a Failure.
template <typename Call>
int WithRetries(const std::string& name, const CallSettings& settings, milliseconds timeout, const Call& call) {
  constexpr int kMaxAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;  // one per call
    settings.Prepare(context, timeout);
    const grpc::Status status = call(context);
    if (status.ok()) return attempt;
    const CallError error = Decode(status);
    if (error.code != grpc::StatusCode::UNAVAILABLE || attempt == kMaxAttempts) throw Failed(name, status);
    std::cout << name << ": attempt " << attempt << " failed: " << error.Describe()
              << " retry_delay_ms=" << error.retry_delay.count() << "\n";
    std::this_thread::sleep_for(error.retry_delay);
  }
}

}  // namespace example
