"""A non-Rust backend: Python grpcio, with stubs generated from the proto at test
time, runs one whole session life through the gateway and its embedded
emulator."""

import re

import grpc
import pytest

from conftest import APP, GROUP


def test_a_whole_session_life_from_python(gateway, stubs):
    target, admin = gateway
    pb, pb_grpc = stubs
    with grpc.insecure_channel(target) as channel:
        client = pb_grpc.StreamSessionsStub(channel)
        started = client.StartStreamSession(
            pb.StartStreamSessionRequest(
                stream_group_identifier=GROUP,
                application_identifier=APP,
                signal_request="python-offer",
                request_id="python-whole-life-1",
                connection_timeout_seconds=300,
            ),
            timeout=10,
        ).stream_session
        assert started.status == pb.STREAM_SESSION_STATUS_ACTIVATING
        session_id = started.arn.rsplit("/", 1)[1]

        def get():
            return client.GetStreamSession(
                pb.GetStreamSessionRequest(
                    stream_group_identifier=GROUP, stream_session_identifier=started.arn
                ),
                timeout=10,
            ).stream_session

        admin.advance(5)
        active = get()
        assert active.status == pb.STREAM_SESSION_STATUS_ACTIVE
        assert active.signal_response

        assert admin.call("POST", f"sessions/{session_id}/connect")[0] == 200
        assert get().status == pb.STREAM_SESSION_STATUS_CONNECTED
        assert admin.call("POST", f"sessions/{session_id}/disconnect")[0] == 200
        assert get().status == pb.STREAM_SESSION_STATUS_PENDING_CLIENT_RECONNECTION

        reconnect = client.CreateStreamSessionConnection(
            pb.CreateStreamSessionConnectionRequest(
                stream_group_identifier=GROUP,
                stream_session_identifier=session_id,
                signal_request="python-offer-2",
                request_id="python-reconnect-1",
            ),
            timeout=10,
        )
        assert reconnect.signal_response
        assert reconnect.stream_session.status == pb.STREAM_SESSION_STATUS_RECONNECTING
        admin.advance(1)
        assert get().status == pb.STREAM_SESSION_STATUS_ACTIVE

        terminated = client.TerminateStreamSession(
            pb.TerminateStreamSessionRequest(
                stream_group_identifier=GROUP, stream_session_identifier=session_id
            ),
            timeout=10,
        ).stream_session
        assert (terminated.arn, terminated.status) == (started.arn, pb.STREAM_SESSION_STATUS_TERMINATING)
        assert get().status == pb.STREAM_SESSION_STATUS_TERMINATING
        admin.advance(2)
        ended = get()
        assert ended.status == pb.STREAM_SESSION_STATUS_TERMINATED
        assert ended.status_reason == pb.STREAM_SESSION_STATUS_REASON_API_TERMINATED

        again = client.StartStreamSession(
            pb.StartStreamSessionRequest(
                stream_group_identifier=GROUP,
                application_identifier=APP,
                signal_request="python-offer",
                request_id="python-whole-life-1",
                connection_timeout_seconds=300,
            ),
            timeout=10,
        ).stream_session
        assert again.arn == started.arn, "the same request_id starts no second session"


def refused_start(client, pb, **fields):
    """The error of a StartStreamSession with `fields` beside valid ones."""
    request = pb.StartStreamSessionRequest(
        stream_group_identifier=GROUP, application_identifier=APP, signal_request="offer", **fields
    )
    with pytest.raises(grpc.RpcError) as refused:
        client.StartStreamSession(request, timeout=10)
    return refused.value


def test_errors_reach_python_as_grpc_codes(gateway, stubs):
    target, admin = gateway
    pb, pb_grpc = stubs
    with grpc.insecure_channel(target) as channel:
        client = pb_grpc.StreamSessionsStub(channel)
        bad = refused_start(client, pb, connection_timeout_seconds=0)
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "connection_timeout_seconds" in bad.details()
        assert "StartStreamSession" not in admin.calls(), "nothing reached the service"
        with pytest.raises(grpc.RpcError) as missing:
            client.GetStreamSession(
                pb.GetStreamSessionRequest(
                    stream_group_identifier=GROUP, stream_session_identifier="NoSuchSession"
                ),
                timeout=10,
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_request_with_many_bad_fields_reaches_c_core_as_invalid_argument_with_details(gateway, stubs):
    """30 environment variable names with dashes once made a status larger
    than C-core's 8 KiB metadata limit (RESOURCE_EXHAUSTED "Stream removed")."""
    target, admin = gateway
    pb, pb_grpc = stubs
    with grpc.insecure_channel(target) as channel:
        client = pb_grpc.StreamSessionsStub(channel)
        names = {f"MY-SETTING-{i}-{'X' * 40}": "on" for i in range(30)}
        bad = refused_start(client, pb, additional_environment_variables=names)
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT, bad.details()
        assert bad.details().endswith("and 27 more")
        details = dict(bad.trailing_metadata())["grpc-status-details-bin"]
        assert b"type.googleapis.com/google.rpc.BadRequest" in details
        assert b"additional_environment_variables" in details
        assert re.search(rb"and \d+ more", details), "the violations not listed are counted"
        assert len(details) < 6 * 1024
        assert "StartStreamSession" not in admin.calls(), "nothing reached the service"


def test_python_consumes_a_watch_stream(gateway, stubs):
    target, admin = gateway
    pb, pb_grpc = stubs
    with grpc.insecure_channel(target) as channel:
        client = pb_grpc.StreamSessionsStub(channel)
        started = client.StartStreamSession(
            pb.StartStreamSessionRequest(
                stream_group_identifier=GROUP,
                application_identifier=APP,
                signal_request="python-offer",
            ),
            timeout=10,
        ).stream_session
        events = client.WatchStreamSession(
            pb.WatchStreamSessionRequest(
                stream_group_identifier=GROUP, stream_session_identifier=started.arn
            ),
            timeout=60,
        )
        seen = [next(events).event]
        assert seen[0].kind == pb.STREAM_SESSION_EVENT_KIND_SNAPSHOT
        assert seen[0].stream_session.status == pb.STREAM_SESSION_STATUS_ACTIVATING

        def next_change():
            for response in events:
                event = response.event
                if event.kind != pb.STREAM_SESSION_EVENT_KIND_HEARTBEAT:
                    seen.append(event)
                    return event
            raise AssertionError("the stream ended early")

        admin.advance(5)
        active = next_change()
        assert active.stream_session.status == pb.STREAM_SESSION_STATUS_ACTIVE
        assert active.stream_session.signal_response
        assert active.previous_status == pb.STREAM_SESSION_STATUS_ACTIVATING
        client.TerminateStreamSession(
            pb.TerminateStreamSessionRequest(
                stream_group_identifier=GROUP, stream_session_identifier=started.arn
            ),
            timeout=10,
        )
        assert next_change().stream_session.status == pb.STREAM_SESSION_STATUS_TERMINATING
        admin.advance(2)
        assert next_change().stream_session.status == pb.STREAM_SESSION_STATUS_TERMINATED
        assert list(events) == [], "the stream ends with OK after TERMINATED"
        assert events.code() == grpc.StatusCode.OK
        revisions = [e.revision for e in seen]
        assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
        assert all(e.resume_token for e in seen)

        resumed = client.WatchStreamSession(
            pb.WatchStreamSessionRequest(
                stream_group_identifier=GROUP,
                stream_session_identifier=started.arn,
                resume_token=seen[-1].resume_token,
            ),
            timeout=10,
        )
        assert list(resumed) == [], "resuming after the terminal event: nothing left to send"
