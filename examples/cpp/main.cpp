// One backend's life with a GameLift Streams session, through the
// gamelift-streams-gateway sidecar, in C++ with gRPC's own C++ library.
// examples/README.md lists the steps and the exact lines this prints.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gamelift/streams/v1/error_reason.pb.h"
#include "gamelift/streams/v1/stream_sessions.grpc.pb.h"
#include "google/rpc/code.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace v1 = gamelift::streams::v1;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

// An unexpected failure: main prints "failed: <what>" and exits 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// A random UUID (version 4), the usual form of a request_id.
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

// A failed call as the gateway describes it: the gRPC code, and the
// google.rpc.Status it sends in the grpc-status-details-bin trailer, which
// grpc::Status::error_details() returns serialized.
struct CallError {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string reason_name;          // google.rpc.ErrorInfo's reason, as sent
  v1::ErrorReason reason = v1::ERROR_REASON_UNSPECIFIED;  // parsed; UNSPECIFIED for a name this code lacks
  milliseconds retry_delay{0};      // google.rpc.RetryInfo: wait this long before retrying
  std::vector<std::string> fields;  // google.rpc.BadRequest: the fields at fault

  std::string CodeName() const { return google::rpc::Code_Name(static_cast<google::rpc::Code>(code)); }
  std::string Describe() const { return "code=" + CodeName() + " reason=" + reason_name; }
};

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
      v1::ErrorReason_Parse(error.reason_name, &error.reason);
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

std::string StatusName(const v1::StreamSession& session) { return v1::StreamSessionStatus_Name(session.status()); }

class Example {
 public:
  Example()
      : token_(Env("GLS_GATEWAY_TOKEN", "")),
        group_(Env("GLS_STREAM_GROUP", "sg-000000001")),
        application_(Env("GLS_APPLICATION", "a-000000001")),
        // One channel for the whole process: it reconnects by itself. The
        // sidecar runs beside the backend, in plain text; across a network,
        // use grpc::SslCredentials(grpc::SslCredentialsOptions()).
        stub_(v1::StreamSessions::NewStub(grpc::CreateChannel(Env("GLS_GATEWAY_ADDRESS", "127.0.0.1:50051"),
                                                              grpc::InsecureChannelCredentials()))) {}

  void Run() {
    ShowARejectedCall();
    const v1::StreamSession session = Start();
    std::cout << "signal response: " << session.signal_response().size() << " bytes handed to the client\n";
    Reconnect(session.arn());

    // Any stream may break (a deadline, a restarted sidecar): the last
    // event's resume_token lets the next call go on where this one stopped.
    std::string resume_token;
    grpc::Status end;
    if (WatchOnce(session.arn(), 2s, resume_token, end)) throw Failure("the session ended while watched");
    Resume(end);  // here: DEADLINE_EXCEEDED, after 2 s

    Terminate(session.arn());
    WatchUntilEnded(session.arn(), resume_token);
  }

 private:
  // Every call has a deadline (without one, a call to a stuck peer waits
  // forever) and, when the sidecar requires one, the bearer token.
  void Prepare(grpc::ClientContext& context, milliseconds timeout) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  }

  // Stands in for the WebRTC signal request a real client (the GameLift
  // Streams Web SDK) sends to the backend.
  static std::string SignalRequestFromClient() { return "{\"type\":\"offer\",\"sdp\":\"v=0 simulated client\"}"; }

  // A call the gateway rejects (no stream group), to show how an error is read.
  void ShowARejectedCall() {
    v1::StartStreamSessionRequest request;
    request.set_application_identifier(application_);
    request.set_signal_request(SignalRequestFromClient());
    v1::StartStreamSessionResponse response;
    grpc::ClientContext context;
    Prepare(context, 10s);
    const grpc::Status status = stub_->StartStreamSession(&context, request, &response);
    if (status.ok()) throw Failure("a start without a stream group was accepted");
    const CallError error = Decode(status);
    if (error.code != grpc::StatusCode::INVALID_ARGUMENT || error.reason != v1::INVALID_FIELD) {
      throw Failed("StartStreamSession", status);
    }
    std::cout << "rejected: " << error.Describe();
    for (const std::string& field : error.fields) std::cout << " field=" << field;
    std::cout << "\n";
  }

  // Starts a session and waits for it to be ACTIVE.
  v1::StreamSession Start() {
    v1::StartStreamSessionRequest request;
    request.set_stream_group_identifier(group_);
    request.set_application_identifier(application_);
    request.set_signal_request(SignalRequestFromClient());
    // The request_id is made once, before the first attempt, and every retry
    // sends the same one: if an attempt started a session but its answer was
    // lost, the retry gets that session back instead of starting a second.
    request.set_request_id(NewRequestId());
    // Answer only once the session is ACTIVE, with its signal response.
    request.set_wait_for_active(true);

    constexpr int kMaxAttempts = 5;
    for (int attempt = 1;; ++attempt) {
      v1::StartStreamSessionResponse response;
      grpc::ClientContext context;
      Prepare(context, 30s);  // longer: it covers the wait for ACTIVE
      const grpc::Status status = stub_->StartStreamSession(&context, request, &response);
      if (status.ok()) {
        std::cout << "started: " << response.stream_session().arn() << " status=" << StatusName(response.stream_session())
                  << " attempts=" << attempt << "\n";
        return response.stream_session();
      }
      // UNAVAILABLE is always safe to retry with the same request_id, after
      // the RetryInfo delay; anything else is not for this code to fix.
      const CallError error = Decode(status);
      if (error.code != grpc::StatusCode::UNAVAILABLE || attempt == kMaxAttempts) {
        throw Failed("StartStreamSession", status);
      }
      std::cout << "start: attempt " << attempt << " failed: " << error.Describe()
                << " retry_delay_ms=" << error.retry_delay.count() << "\n";
      std::this_thread::sleep_for(error.retry_delay);
    }
  }

  // A client reconnecting: a new signal request for the same session.
  void Reconnect(const std::string& arn) {
    v1::CreateStreamSessionConnectionRequest request;
    request.set_stream_group_identifier(group_);
    request.set_stream_session_identifier(arn);
    request.set_signal_request(SignalRequestFromClient());
    request.set_request_id(NewRequestId());
    request.set_wait_for_active(true);
    v1::CreateStreamSessionConnectionResponse response;
    grpc::ClientContext context;
    Prepare(context, 30s);
    const grpc::Status status = stub_->CreateStreamSessionConnection(&context, request, &response);
    if (!status.ok()) throw Failed("CreateStreamSessionConnection", status);
    std::cout << "reconnected: status=" << StatusName(response.stream_session()) << " signal response "
              << response.signal_response().size() << " bytes\n";
  }

  void Terminate(const std::string& arn) {
    v1::TerminateStreamSessionRequest request;
    request.set_stream_group_identifier(group_);
    request.set_stream_session_identifier(arn);
    request.set_request_id(NewRequestId());
    v1::TerminateStreamSessionResponse response;
    grpc::ClientContext context;
    Prepare(context, 10s);
    const grpc::Status status = stub_->TerminateStreamSession(&context, request, &response);
    if (!status.ok()) throw Failed("TerminateStreamSession", status);
    std::cout << "terminated: status=" << StatusName(response.stream_session()) << "\n";
  }

  // Reads one WatchStreamSession stream from resume_token (empty: from a
  // SNAPSHOT), printing SNAPSHOT and CHANGE events and keeping the last
  // event's token. True once the session ended (TERMINATED or ERROR); the
  // stream's own end is in `end`.
  bool WatchOnce(const std::string& arn, milliseconds timeout, std::string& resume_token, grpc::Status& end) {
    v1::WatchStreamSessionRequest request;
    request.set_stream_group_identifier(group_);
    request.set_stream_session_identifier(arn);
    request.set_resume_token(resume_token);
    grpc::ClientContext context;
    Prepare(context, timeout);
    auto stream = stub_->WatchStreamSession(&context, request);
    bool ended = false;
    v1::WatchStreamSessionResponse response;
    while (stream->Read(&response)) {
      const v1::StreamSessionEvent& event = response.event();
      resume_token = event.resume_token();
      if (event.kind() == v1::STREAM_SESSION_EVENT_KIND_HEARTBEAT) continue;  // alive, nothing new
      const std::string kind = v1::StreamSessionEventKind_Name(event.kind()).substr(sizeof "STREAM_SESSION_EVENT_KIND_" - 1);
      std::cout << "watch: " << kind << " " << StatusName(event.stream_session()) << "\n";
      const v1::StreamSessionStatus status = event.stream_session().status();
      ended = ended || status == v1::STREAM_SESSION_STATUS_TERMINATED || status == v1::STREAM_SESSION_STATUS_ERROR;
    }
    end = stream->Finish();  // OK after a terminal event; otherwise why it broke
    return ended;
  }

  // Follows the session to its end, resuming each time the stream breaks.
  void WatchUntilEnded(const std::string& arn, std::string& resume_token) {
    for (int streams = 1; streams <= 10; ++streams) {
      grpc::Status end;
      if (WatchOnce(arn, 10s, resume_token, end)) return;
      Resume(end);
    }
    throw Failure("the session did not end");
  }

  // A watch stream that broke before the session ended: resume it (after
  // RetryInfo's delay, if any) when it broke in passing.
  static void Resume(const grpc::Status& end) {
    const CallError error = Decode(end);
    if (error.code != grpc::StatusCode::DEADLINE_EXCEEDED && error.code != grpc::StatusCode::UNAVAILABLE) {
      throw end.ok() ? Failure("the watch ended before the session") : Failed("WatchStreamSession", end);
    }
    std::cout << "watch: stream ended with " << error.CodeName() << "; resuming from the last token\n";
    std::this_thread::sleep_for(error.retry_delay);
  }

  const std::string token_;
  const std::string group_;
  const std::string application_;
  const std::unique_ptr<v1::StreamSessions::Stub> stub_;
};

}  // namespace

int main() {
  try {
    Example().Run();
  } catch (const std::exception& e) {
    std::cout << "failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "done" << std::endl;
  return 0;
}
