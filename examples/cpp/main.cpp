// One backend's life with a GameLift Streams session, then with an IVS
// Real-Time stage beside it (stage.cpp), through the gamelift-streams-gateway
// sidecar, in C++ with gRPC's own C++ library. examples/README.md lists the
// steps and the exact lines this prints.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "gamelift/streams/v1/error_reason.pb.h"
#include "gamelift/streams/v1/stream_sessions.grpc.pb.h"
#include "gateway_call.h"
#include "stage.h"

namespace v1 = gamelift::streams::v1;
using namespace std::chrono_literals;

namespace {

using namespace example;

std::string StatusName(const v1::StreamSession& session) { return v1::StreamSessionStatus_Name(session.status()); }

class Example {
 public:
  Example()
      : settings_(Env("GLS_GATEWAY_TOKEN", "")),
        group_(Env("GLS_STREAM_GROUP", "sg-000000001")),
        application_(Env("GLS_APPLICATION", "a-000000001")),
        // One channel for the whole process and both services: it
        // reconnects by itself. The sidecar runs beside the backend, in
        // plain text; across a network, use
        // grpc::SslCredentials(grpc::SslCredentialsOptions()).
        channel_(grpc::CreateChannel(Env("GLS_GATEWAY_ADDRESS", "127.0.0.1:50051"), grpc::InsecureChannelCredentials())),
        stub_(v1::StreamSessions::NewStub(channel_)) {}

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

    RunStage(channel_, settings_);  // the same channel, for the Stages service
  }

 private:
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
    settings_.Prepare(context, 10s);
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

    v1::StartStreamSessionResponse response;
    // UNAVAILABLE is retried with the same request_id, after the RetryInfo
    // delay; anything else is not for this code to fix (gateway_call.h).
    const int attempts = WithRetries("start", settings_, 30s,  // longer: it covers the wait for ACTIVE
                                     [&](grpc::ClientContext& context) {
                                       return stub_->StartStreamSession(&context, request, &response);
                                     });
    std::cout << "started: " << response.stream_session().arn() << " status=" << StatusName(response.stream_session())
              << " attempts=" << attempts << "\n";
    return response.stream_session();
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
    settings_.Prepare(context, 30s);
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
    settings_.Prepare(context, 10s);
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
    settings_.Prepare(context, timeout);
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

  const CallSettings settings_;
  const std::string group_;
  const std::string application_;
  const std::shared_ptr<grpc::Channel> channel_;
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
