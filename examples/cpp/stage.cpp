// The stage part of the script (stage.h).
#include "stage.h"

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "ivs/realtime/v1/error_reason.pb.h"
#include "ivs/realtime/v1/stages.grpc.pb.h"
#include "simulated_clients.h"

namespace example {
namespace {

namespace rt = ivs::realtime::v1;
using namespace std::chrono_literals;

// The one watch stream of the stage part sees every join, publish and leave.
constexpr milliseconds kStageWatchTimeout = 60s;
constexpr milliseconds kCallTimeout = 10s;

// The enum value name without its prefix, as "SYNCED" for STAGE_PARTICIPANT_EVENT_KIND_SYNCED.
std::string WithoutPrefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

// Reads one WatchStageParticipants stream, event by event. The stream never
// ends by itself: Close cancels it.
class StageWatch {
 public:
  StageWatch(rt::Stages::Stub& stages, const CallSettings& settings, const std::string& arn) {
    settings.Prepare(context_, kStageWatchTimeout);
    rt::WatchStageParticipantsRequest request;
    request.set_stage_arn(arn);
    stream_ = stages.WatchStageParticipants(&context_, request);
  }
  ~StageWatch() { Close(); }
  StageWatch(const StageWatch&) = delete;
  StageWatch& operator=(const StageWatch&) = delete;

  // Prints the stream's events (heartbeats only prove it alive) until one of
  // `kind` comes (for a CHANGE: event `name` of user `user`).
  void Until(rt::StageParticipantEventKind kind, rt::ParticipantEventName name = rt::PARTICIPANT_EVENT_NAME_UNSPECIFIED,
             const std::string& user = "") {
    rt::WatchStageParticipantsResponse response;
    while (stream_->Read(&response)) {
      const rt::StageParticipantEvent& event = response.event();
      const rt::Participant& participant = event.participant();
      const std::string label =
          WithoutPrefix(rt::StageParticipantEventKind_Name(event.kind()), "STAGE_PARTICIPANT_EVENT_KIND_");
      switch (event.kind()) {
        case rt::STAGE_PARTICIPANT_EVENT_KIND_HEARTBEAT:
          continue;  // alive, nothing new
        case rt::STAGE_PARTICIPANT_EVENT_KIND_SNAPSHOT:
          std::cout << "stage watch: " << label << " " << participant.user_id() << " "
                    << rt::ParticipantState_Name(participant.state()) << "\n";
          break;
        case rt::STAGE_PARTICIPANT_EVENT_KIND_SYNCED:
          std::cout << "stage watch: " << label << "\n";
          break;
        case rt::STAGE_PARTICIPANT_EVENT_KIND_CHANGE:
          std::cout << "stage watch: " << label << " " << rt::ParticipantEventName_Name(event.participant_event().name())
                    << " " << participant.user_id() << "\n";
          break;
        default:
          break;  // a kind a newer gateway added
      }
      if (event.kind() == kind && (kind != rt::STAGE_PARTICIPANT_EVENT_KIND_CHANGE ||
                                   (event.participant_event().name() == name && participant.user_id() == user))) {
        return;
      }
    }
    closed_ = true;
    const grpc::Status end = stream_->Finish();
    if (end.ok()) throw Failure("stage watch: the stream ended");
    throw Failed("stage watch", end);
  }

  // Closes the stream: cancels it, then collects its end (CANCELLED).
  void Close() {
    if (closed_) return;
    closed_ = true;
    context_.TryCancel();
    rt::WatchStageParticipantsResponse ignored;
    while (stream_->Read(&ignored)) {
    }
    stream_->Finish();
  }

 private:
  grpc::ClientContext context_;  // outlives the stream it serves
  std::unique_ptr<grpc::ClientReader<rt::WatchStageParticipantsResponse>> stream_;
  bool closed_ = false;
};

class StagePart {
 public:
  StagePart(const std::shared_ptr<grpc::Channel>& channel, const CallSettings& settings)
      : stages_(rt::Stages::NewStub(channel)), settings_(settings) {}

  void Run() {
    const std::string arn = Create();

    // 9. One token per participant: a player sends and receives audio and
    // video, a spectator only receives. Each goes to its game client, which
    // joins the stage with an IVS broadcast SDK.
    const rt::ParticipantToken player =
        CreateToken(arn, "player", {rt::PARTICIPANT_TOKEN_CAPABILITY_PUBLISH, rt::PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE});
    const rt::ParticipantToken spectator = CreateToken(arn, "spectator", {rt::PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE});

    // 10. Watch the stage's participants: a SNAPSHOT of each one on it,
    // SYNCED, then a CHANGE per event.
    {
      StageWatch watch(*stages_, settings_, arn);
      watch.Until(rt::STAGE_PARTICIPANT_EVENT_KIND_SYNCED);

      // 11. Simulated game clients join and publish with the tokens: only
      // the emulator has them. Against a real deployment the example goes on.
      const std::string emulator_url = Env("GLS_EMULATOR_URL", "");
      if (emulator_url.empty()) {
        std::cout << "stage: GLS_EMULATOR_URL unset; skipping the simulated clients\n";
      } else {
        PlayAndWatch(arn, SimulatedClients(emulator_url), watch, player, spectator);
      }
    }  // the watch is closed (cancelled) here

    Delete(arn);
    GetAfterDelete(arn);
  }

 private:
  // 8. Creates the stage. As for every mutating call, the request_id is made
  // once and sent on every retry. AWS cannot de-duplicate CreateStage, so
  // after an answer lost on the way back the gateway answers UNKNOWN
  // (OUTCOME_UNKNOWN, not retried) and sends nothing more for this
  // request_id; the unique name finds the stage (docs/stages.md, Idempotency).
  std::string Create() {
    rt::CreateStageRequest request;
    request.set_name("match-" + NewRequestId());
    request.set_request_id(NewRequestId());
    rt::CreateStageResponse response;
    WithRetries("create stage", settings_, kCallTimeout,
                [&](grpc::ClientContext& context) { return stages_->CreateStage(&context, request, &response); });
    std::cout << "stage: created " << response.stage().arn() << "\n";
    return response.stage().arn();
  }

  // The token a client joins the stage with; prints what it allows.
  rt::ParticipantToken CreateToken(const std::string& arn, const std::string& user_id,
                                   const std::vector<rt::ParticipantTokenCapability>& capabilities) {
    rt::CreateParticipantTokenRequest request;
    request.set_stage_arn(arn);
    // user_id is the player's ID in the game: no personal data, it is not encrypted.
    request.mutable_configuration()->set_user_id(user_id);
    for (const auto capability : capabilities) request.mutable_configuration()->add_capabilities(capability);
    request.set_request_id(NewRequestId());
    rt::CreateParticipantTokenResponse response;
    WithRetries("create token", settings_, kCallTimeout, [&](grpc::ClientContext& context) {
      return stages_->CreateParticipantToken(&context, request, &response);
    });
    const rt::ParticipantToken& token = response.participant_token();
    std::string names;
    for (const int capability : token.capabilities()) {
      names += (names.empty() ? "" : ",") +
               WithoutPrefix(rt::ParticipantTokenCapability_Name(static_cast<rt::ParticipantTokenCapability>(capability)),
                             "PARTICIPANT_TOKEN_CAPABILITY_");
    }
    std::cout << "stage: token for " << token.user_id() << " capabilities=" << names << "\n";
    return token;
  }

  // The simulated clients join, publish and leave, and the backend
  // disconnects the spectator, each followed on the watch.
  void PlayAndWatch(const std::string& arn, const SimulatedClients& clients, StageWatch& watch,
                    const rt::ParticipantToken& player, const rt::ParticipantToken& spectator) {
    struct Step {
      std::function<void()> act;
      rt::ParticipantEventName event;
      std::string user;
    };
    const std::vector<Step> steps = {
        {[&] { clients.Join("player", player.token()); }, rt::PARTICIPANT_EVENT_NAME_JOINED, "player"},
        {[&] { clients.Act("player", player.participant_id(), "publish"); }, rt::PARTICIPANT_EVENT_NAME_PUBLISH_STARTED,
         "player"},
        {[&] { clients.Join("spectator", spectator.token()); }, rt::PARTICIPANT_EVENT_NAME_JOINED, "spectator"},
        {[&] { Disconnect(arn, spectator); }, rt::PARTICIPANT_EVENT_NAME_LEFT, "spectator"},
        {[&] { clients.Act("player", player.participant_id(), "leave"); }, rt::PARTICIPANT_EVENT_NAME_LEFT, "player"},
    };
    for (const Step& step : steps) {
      step.act();
      watch.Until(rt::STAGE_PARTICIPANT_EVENT_KIND_CHANGE, step.event, step.user);
    }
  }

  // Removes a participant from the stage and revokes its token (the
  // backend's call: a spectator whose match ended, a player kicked).
  void Disconnect(const std::string& arn, const rt::ParticipantToken& token) {
    rt::DisconnectParticipantRequest request;
    request.set_stage_arn(arn);
    request.set_participant_id(token.participant_id());
    request.set_reason("spectating ended");
    request.set_request_id(NewRequestId());
    rt::DisconnectParticipantResponse response;
    WithRetries("disconnect", settings_, kCallTimeout, [&](grpc::ClientContext& context) {
      return stages_->DisconnectParticipant(&context, request, &response);
    });
    std::cout << "stage: disconnected " << token.user_id() << "\n";
  }

  // 12. Deletes the stage (its own request_id): anyone still on it is disconnected.
  void Delete(const std::string& arn) {
    rt::DeleteStageRequest request;
    request.set_stage_arn(arn);
    request.set_request_id(NewRequestId());
    rt::DeleteStageResponse response;
    WithRetries("delete stage", settings_, kCallTimeout,
                [&](grpc::ClientContext& context) { return stages_->DeleteStage(&context, request, &response); });
    std::cout << "stage: deleted\n";
  }

  // 13. The stage is gone: GetStage answers NOT_FOUND, read like every
  // error; the Stages service's reasons are ivs.realtime.v1.ErrorReason's names.
  void GetAfterDelete(const std::string& arn) {
    rt::GetStageRequest request;
    request.set_stage_arn(arn);
    rt::GetStageResponse response;
    grpc::ClientContext context;
    settings_.Prepare(context, kCallTimeout);
    const grpc::Status status = stages_->GetStage(&context, request, &response);
    if (status.ok()) throw Failure("get stage after delete: the stage is still there");
    const CallError error = Decode(status);
    rt::ErrorReason reason = rt::ERROR_REASON_UNSPECIFIED;  // stays so for a name this code lacks
    rt::ErrorReason_Parse(error.reason_name, &reason);
    if (error.code != grpc::StatusCode::NOT_FOUND || reason != rt::NOT_FOUND) {
      throw Failed("get stage after delete", status);
    }
    std::cout << "stage: get after delete: " << error.Describe() << "\n";
  }

  const std::unique_ptr<rt::Stages::Stub> stages_;
  const CallSettings& settings_;
};

}  // namespace

void RunStage(const std::shared_ptr<grpc::Channel>& channel, const CallSettings& settings) {
  StagePart(channel, settings).Run();
}

}  // namespace example
