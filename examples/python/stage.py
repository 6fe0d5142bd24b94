"""The stage part of the script (examples/README.md): an IVS Real-Time stage
for a match, with a token for a player and one for a spectator, watched while
they join, publish and leave, through the same sidecar (and channel) as the
stream sessions.

Needs the stubs grpc_tools.protoc makes from proto/ivs/realtime/v1/*.proto
(see ci.sh)."""

import json
import os
import time
import urllib.parse
import urllib.request
import uuid

import grpc

from gateway_errors import Failed, describe, error_details
from ivs.realtime.v1 import error_reason_pb2
from ivs.realtime.v1 import stages_pb2 as pb
from ivs.realtime.v1 import stages_pb2_grpc as pb_grpc

CALL_SECONDS = 10
# The one watch stream of the stage part sees every join, publish and leave.
STAGE_WATCH_SECONDS = 60
MAX_ATTEMPTS = 5


def with_retries(name, call):
    """Calls `call` until it succeeds, retrying UNAVAILABLE (always safe with
    the same request_id, which the caller made once) after the RetryInfo
    delay."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return call()
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE or attempt == MAX_ATTEMPTS:
                raise Failed(f"{name}: {describe(err)}") from err
            info, retry, _ = error_details(err)
            delay_ms = retry.retry_delay.ToMilliseconds() if retry else 1000
            print(f"{name}: attempt {attempt} failed: code=UNAVAILABLE reason={info.reason if info else ''} "
                  f"retry_delay_ms={delay_ms}", flush=True)
            time.sleep(delay_ms / 1000)
    raise AssertionError("unreachable")


class SimulatedClients:
    """Stand-ins for the game clients of a stage. A real client joins with
    the IVS broadcast SDK and the token the backend handed it; here the
    emulator's admin API (docs/emulator.md, "Admin API for simulated
    participants") plays them. A backend has nothing like this: leave it out
    when you copy."""

    VERBS = {"publish": "publishes", "unpublish": "unpublishes", "leave": "leaves"}

    def __init__(self, emulator_url: str):
        self.emulator_url = emulator_url

    def join(self, user: str, token: str) -> None:
        print(f"stage client: {user} joins", flush=True)
        self._post("/_emulator/ivs/participants", {"token": token})

    def act(self, user: str, participant_id: str, action: str) -> None:
        print(f"stage client: {user} {self.VERBS[action]}", flush=True)
        self._post(f"/_emulator/ivs/participants/{urllib.parse.quote(participant_id, safe='')}/{action}")

    def _post(self, path: str, body=None) -> None:
        request = urllib.request.Request(
            self.emulator_url + path, data=json.dumps(body or {}).encode(), method="POST",
            headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=CALL_SECONDS):
            pass  # a refusal raises HTTPError with the emulator's answer


class StageWatch:
    """Reads one WatchStageParticipants stream, event by event."""

    def __init__(self, stream):
        self.stream = stream

    def until(self, kind, name=None, user=None) -> None:
        """Prints the stream's events (heartbeats only prove it alive) until
        one of `kind` comes (for a CHANGE: event `name` of user `user`)."""
        while True:
            try:
                event = next(self.stream).event
            except StopIteration:
                raise Failed("stage watch: the stream ended") from None
            except grpc.RpcError as err:
                raise Failed(f"stage watch: {describe(err)}") from err
            label = pb.StageParticipantEventKind.Name(event.kind).removeprefix("STAGE_PARTICIPANT_EVENT_KIND_")
            participant = event.participant
            if event.kind == pb.STAGE_PARTICIPANT_EVENT_KIND_HEARTBEAT:
                continue
            if event.kind == pb.STAGE_PARTICIPANT_EVENT_KIND_SNAPSHOT:
                print(f"stage watch: {label} {participant.user_id} {pb.ParticipantState.Name(participant.state)}",
                      flush=True)
            elif event.kind == pb.STAGE_PARTICIPANT_EVENT_KIND_SYNCED:
                print(f"stage watch: {label}", flush=True)
            elif event.kind == pb.STAGE_PARTICIPANT_EVENT_KIND_CHANGE:
                event_name = pb.ParticipantEventName.Name(event.participant_event.name)
                print(f"stage watch: {label} {event_name} {participant.user_id}", flush=True)
            if event.kind == kind and (kind != pb.STAGE_PARTICIPANT_EVENT_KIND_CHANGE or
                                       (event.participant_event.name == name and participant.user_id == user)):
                return

    def close(self) -> None:
        """Closes the stream (it never ends by itself)."""
        self.stream.cancel()


def run_stage(channel: grpc.Channel, metadata) -> None:
    """Steps 8 to 13 of the script, on `channel` (the stream sessions' one),
    each call with `metadata` (the token)."""
    stub = pb_grpc.StagesStub(channel)

    def retried(name, method, request):
        return with_retries(name, lambda: method(request, timeout=CALL_SECONDS, metadata=metadata))

    # 8. Create the stage. As for every mutating call, the request_id is made
    # once and sent on every retry. AWS cannot de-duplicate CreateStage, so
    # after an answer lost on the way back the gateway answers UNKNOWN
    # (OUTCOME_UNKNOWN, not retried) and sends nothing more for this
    # request_id; the unique name finds the stage (docs/stages.md, Idempotency).
    created = retried("create stage", stub.CreateStage,
                      pb.CreateStageRequest(name=f"match-{uuid.uuid4()}", request_id=str(uuid.uuid4())))
    stage_arn = created.stage.arn
    print(f"stage: created {stage_arn}", flush=True)

    # 9. One token per participant: a player sends and receives audio and
    # video, a spectator only receives. Each goes to its game client, which
    # joins with an IVS broadcast SDK. user_id is the player's ID in the game:
    # no personal data, it is not encrypted.
    def create_token(user_id, *capabilities):
        request = pb.CreateParticipantTokenRequest(
            stage_arn=stage_arn,
            configuration=pb.ParticipantTokenConfiguration(user_id=user_id, capabilities=capabilities),
            request_id=str(uuid.uuid4()))
        token = retried("create token", stub.CreateParticipantToken, request).participant_token
        names = ",".join(pb.ParticipantTokenCapability.Name(c).removeprefix("PARTICIPANT_TOKEN_CAPABILITY_")
                         for c in token.capabilities)
        print(f"stage: token for {token.user_id} capabilities={names}", flush=True)
        return token

    player = create_token("player", pb.PARTICIPANT_TOKEN_CAPABILITY_PUBLISH, pb.PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE)
    spectator = create_token("spectator", pb.PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE)

    # 10. Watch the stage's participants: a SNAPSHOT of each one on it,
    # SYNCED, then a CHANGE per event.
    watch = StageWatch(
        stub.WatchStageParticipants(pb.WatchStageParticipantsRequest(stage_arn=stage_arn),
                                    timeout=STAGE_WATCH_SECONDS, metadata=metadata))
    try:
        watch.until(pb.STAGE_PARTICIPANT_EVENT_KIND_SYNCED)

        # 11. Simulated game clients: only the emulator has them. Against a
        # real deployment the example goes on.
        emulator_url = os.environ.get("GLS_EMULATOR_URL")
        if not emulator_url:
            print("stage: GLS_EMULATOR_URL unset; skipping the simulated clients", flush=True)
        else:
            clients = SimulatedClients(emulator_url)

            def disconnect_spectator():
                # The backend's call (a spectator whose match ended, a player
                # kicked): it also revokes the token.
                retried("disconnect", stub.DisconnectParticipant, pb.DisconnectParticipantRequest(
                    stage_arn=stage_arn, participant_id=spectator.participant_id,
                    reason="spectating ended", request_id=str(uuid.uuid4())))
                print(f"stage: disconnected {spectator.user_id}", flush=True)

            steps = [
                (lambda: clients.join("player", player.token), pb.PARTICIPANT_EVENT_NAME_JOINED, "player"),
                (lambda: clients.act("player", player.participant_id, "publish"),
                 pb.PARTICIPANT_EVENT_NAME_PUBLISH_STARTED, "player"),
                (lambda: clients.join("spectator", spectator.token), pb.PARTICIPANT_EVENT_NAME_JOINED, "spectator"),
                (disconnect_spectator, pb.PARTICIPANT_EVENT_NAME_LEFT, "spectator"),
                (lambda: clients.act("player", player.participant_id, "leave"), pb.PARTICIPANT_EVENT_NAME_LEFT,
                 "player"),
            ]
            for act, name, user in steps:
                act()
                watch.until(pb.STAGE_PARTICIPANT_EVENT_KIND_CHANGE, name, user)
    finally:
        watch.close()

    # 12. Delete the stage (its own request_id): anyone still on it is disconnected.
    retried("delete stage", stub.DeleteStage, pb.DeleteStageRequest(stage_arn=stage_arn, request_id=str(uuid.uuid4())))
    print("stage: deleted", flush=True)

    # 13. The stage is gone: GetStage answers NOT_FOUND, read like every
    # error; the Stages service's reasons are ivs.realtime.v1.ErrorReason's names.
    try:
        stub.GetStage(pb.GetStageRequest(stage_arn=stage_arn), timeout=CALL_SECONDS, metadata=metadata)
        raise Failed("get stage after delete: the stage is still there")
    except grpc.RpcError as err:
        info, _, _ = error_details(err)
        reason = info.reason if info else ""
        if err.code() != grpc.StatusCode.NOT_FOUND or reason not in error_reason_pb2.ErrorReason.keys() or \
                error_reason_pb2.ErrorReason.Value(reason) != error_reason_pb2.NOT_FOUND:
            raise Failed(f"get stage after delete: {describe(err)}") from err
        print(f"stage: get after delete: code={err.code().name} reason={reason}", flush=True)
