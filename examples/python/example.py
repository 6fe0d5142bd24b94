"""A backend's life with a stream session, through the gamelift-streams-gateway
sidecar: start (retrying safely), hand the signal response to the client,
reconnect, watch (and resume), terminate; then an IVS Real-Time stage beside
it (stage.py). examples/README.md is the script.

Needs grpcio, grpcio-status (which brings googleapis-common-protos, the
google.rpc types) and the stubs grpc_tools.protoc makes from
proto/gamelift/streams/v1/*.proto and proto/ivs/realtime/v1/*.proto on the
import path (see ci.sh)."""

import os
import sys
import time
import uuid

import grpc

from gamelift.streams.v1 import error_reason_pb2
from gamelift.streams.v1 import stream_sessions_pb2 as pb
from gamelift.streams.v1 import stream_sessions_pb2_grpc as pb_grpc
from gateway_errors import Failed, describe, error_details
from stage import run_stage

ADDRESS = os.environ.get("GLS_GATEWAY_ADDRESS", "127.0.0.1:50051")
TOKEN = os.environ.get("GLS_GATEWAY_TOKEN")
STREAM_GROUP = os.environ.get("GLS_STREAM_GROUP", "sg-000000001")
APPLICATION = os.environ.get("GLS_APPLICATION", "a-000000001")

# Sent with every call when the gateway requires a token.
METADATA = [("authorization", f"Bearer {TOKEN}")] if TOKEN else []

# A deadline (timeout=, in seconds) on every call: without one a call to a
# stuck gateway waits forever.
CALL_SECONDS = 10
WAIT_FOR_ACTIVE_SECONDS = 30
MAX_START_ATTEMPTS = 5


def error_reason(info) -> int:
    """ErrorInfo's reason as an ErrorReason value: ERROR_REASON_UNSPECIFIED
    without ErrorInfo or for a reason a newer gateway added (info.reason
    keeps the name as sent)."""
    if info is None:
        return error_reason_pb2.ERROR_REASON_UNSPECIFIED
    try:
        # Reason strings are ErrorReason value names; one this code lacks raises ValueError.
        return error_reason_pb2.ErrorReason.Value(info.reason)
    except ValueError:
        return error_reason_pb2.ERROR_REASON_UNSPECIFIED


# Stand-ins for the game client's WebRTC signalling.
def signal_request_from_client() -> str:
    return f"client-offer-{uuid.uuid4()}"


def hand_to_client(signal_response: str) -> None:
    pass


def start_session(stub: pb_grpc.StreamSessionsStub) -> pb.StreamSession:
    # The request, with its request_id, is made once, before the first attempt:
    # when an attempt fails UNAVAILABLE the session may have been started all
    # the same (the answer was lost on the way back), and a retry with the same
    # request_id returns that session instead of starting a second one.
    request = pb.StartStreamSessionRequest(
        stream_group_identifier=STREAM_GROUP,
        application_identifier=APPLICATION,
        signal_request=signal_request_from_client(),
        request_id=str(uuid.uuid4()),
        # Answer once the session is ACTIVE and carries its signal response.
        wait_for_active=True,
    )
    for attempt in range(1, MAX_START_ATTEMPTS + 1):
        try:
            response = stub.StartStreamSession(request, timeout=WAIT_FOR_ACTIVE_SECONDS, metadata=METADATA)
        except grpc.RpcError as err:
            # UNAVAILABLE is always safe to retry, after the RetryInfo delay.
            if err.code() != grpc.StatusCode.UNAVAILABLE or attempt == MAX_START_ATTEMPTS:
                raise Failed(f"start: {describe(err)}") from err
            info, retry, _ = error_details(err)
            delay_ms = retry.retry_delay.ToMilliseconds() if retry else 1000
            print(f"start: attempt {attempt} failed: code=UNAVAILABLE reason={info.reason if info else ''} "
                  f"retry_delay_ms={delay_ms}", flush=True)
            time.sleep(delay_ms / 1000)
            continue
        session = response.stream_session
        print(f"started: {session.arn} status={pb.StreamSessionStatus.Name(session.status)} attempts={attempt}",
              flush=True)
        return session
    raise AssertionError("unreachable")


ENDED = (pb.STREAM_SESSION_STATUS_TERMINATED, pb.STREAM_SESSION_STATUS_ERROR)


def watch_once(stub, arn: str, resume_token: str, seconds: float):
    """Follows one WatchStreamSession stream, printing its SNAPSHOT and CHANGE
    events, until the session ends (the stream then ends with OK) or the stream
    breaks (DEADLINE_EXCEEDED, UNAVAILABLE: resume from the last token).
    Returns (the last event's resume_token, whether the session ended)."""
    request = pb.WatchStreamSessionRequest(
        stream_group_identifier=STREAM_GROUP, stream_session_identifier=arn, resume_token=resume_token)
    ended = False
    try:
        for response in stub.WatchStreamSession(request, timeout=seconds, metadata=METADATA):
            event = response.event
            resume_token = event.resume_token
            if event.kind == pb.STREAM_SESSION_EVENT_KIND_HEARTBEAT:
                continue
            kind = pb.StreamSessionEventKind.Name(event.kind).removeprefix("STREAM_SESSION_EVENT_KIND_")
            print(f"watch: {kind} {pb.StreamSessionStatus.Name(event.stream_session.status)}", flush=True)
            ended = ended or event.stream_session.status in ENDED
    except grpc.RpcError as err:
        if err.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            raise Failed(f"watch: {describe(err)}") from err
        print(f"watch: stream ended with {err.code().name}; resuming from the last token", flush=True)
    return resume_token, ended


def run(stub: pb_grpc.StreamSessionsStub) -> None:
    # 1. A call the gateway refuses: how a failed call is read.
    try:
        stub.StartStreamSession(
            pb.StartStreamSessionRequest(
                stream_group_identifier="", application_identifier=APPLICATION, signal_request="offer"),
            timeout=CALL_SECONDS, metadata=METADATA)
        raise Failed("a start without a stream group was accepted")
    except grpc.RpcError as err:
        info, _, bad_request = error_details(err)
        if err.code() != grpc.StatusCode.INVALID_ARGUMENT or error_reason(info) != error_reason_pb2.INVALID_FIELD:
            raise Failed(f"start without a stream group: {describe(err)}") from err
        fields = "".join(f" field={v.field}" for v in bad_request.field_violations) if bad_request else ""
        print(f"rejected: code={err.code().name} reason={info.reason if info else ''}{fields}", flush=True)

    # 2. and 3. Start, retrying UNAVAILABLE with the same request_id.
    session = start_session(stub)
    hand_to_client(session.signal_response)
    print(f"signal response: {len(session.signal_response.encode())} bytes handed to the client", flush=True)

    # 4. The client reconnects with a new signal request.
    try:
        connection = stub.CreateStreamSessionConnection(
            pb.CreateStreamSessionConnectionRequest(
                stream_group_identifier=STREAM_GROUP,
                stream_session_identifier=session.arn,
                signal_request=signal_request_from_client(),
                request_id=str(uuid.uuid4()),
                wait_for_active=True,
            ),
            timeout=WAIT_FOR_ACTIVE_SECONDS, metadata=METADATA)
    except grpc.RpcError as err:
        raise Failed(f"reconnect: {describe(err)}") from err
    hand_to_client(connection.signal_response)
    print(f"reconnected: status={pb.StreamSessionStatus.Name(connection.stream_session.status)} "
          f"signal response {len(connection.signal_response.encode())} bytes", flush=True)

    # 5. Watch for 2 s: the stream breaks with DEADLINE_EXCEEDED, as any stream
    # may break; what matters is the last event's resume_token.
    resume_token, ended = watch_once(stub, session.arn, "", 2)

    # 6. Terminate (its own request_id: a retry of it answers alike).
    try:
        terminated = stub.TerminateStreamSession(
            pb.TerminateStreamSessionRequest(
                stream_group_identifier=STREAM_GROUP,
                stream_session_identifier=session.arn,
                request_id=str(uuid.uuid4()),
            ),
            timeout=CALL_SECONDS, metadata=METADATA)
    except grpc.RpcError as err:
        raise Failed(f"terminate: {describe(err)}") from err
    print(f"terminated: status={pb.StreamSessionStatus.Name(terminated.stream_session.status)}", flush=True)

    # 7. Resume the watch from the last token: no new SNAPSHOT, only what
    # changed since, until TERMINATED; resume again whenever a stream breaks.
    streams = 0
    while not ended:
        streams += 1
        if streams > 10:
            raise Failed("watch: the session did not end")
        resume_token, ended = watch_once(stub, session.arn, resume_token, CALL_SECONDS)


def main() -> int:
    with grpc.insecure_channel(ADDRESS) as channel:
        try:
            run(pb_grpc.StreamSessionsStub(channel))
            # 8. to 13. A stage for the match's cameras and voice, on the same
            # channel: one sidecar, one port, two services.
            run_stage(channel, METADATA)
            print("done", flush=True)
        except Failed as failure:
            print(f"failed: {failure}", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
