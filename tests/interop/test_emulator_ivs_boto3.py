"""The emulator's IVS Real-Time part driven by boto3's ivs-realtime client from
PyPI (the same process and port as GameLift Streams): every one of the 16
implemented operations, ISO 8601 timestamps parsed into datetimes, typed errors
as boto3's modelled exception classes, pagination with nextToken, the admin API
that simulates participants, and a throttle that botocore classifies as one.
State changes come from the admin API and the admin clock, never from sleeping."""

import datetime
import urllib.parse

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from botocore.retries.standard import ThrottledRetryableChecker

from conftest import ACCOUNT, REGION, Admin, _stop_all, start_emulator

STAGE_PREFIX = f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/"
CHANNEL = f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/abcdEFGH1234"


def ivs_client(url, attempts=1):
    """boto3's ivs-realtime client for the emulator, making exactly `attempts`
    HTTP attempts per call."""
    return boto3.client(
        "ivs-realtime",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="AKIDEMULATOR",
        aws_secret_access_key="emulator-secret",
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, read_timeout=30),
    )


@pytest.fixture
def ivs():
    """A fresh emulator with a still clock: (ivs-realtime client, admin API, URL)."""
    proc, url = start_emulator()
    try:
        yield ivs_client(url), Admin(url), url
    finally:
        _stop_all([proc])


def join(admin, token):
    status, body = admin.call("POST", "ivs/participants", {"token": token})
    assert status == 200, body
    return body


def client(admin, participant, action, body=None):
    status, value = admin.call("POST", f"ivs/participants/{urllib.parse.quote(participant)}/{action}", body or {})
    assert status == 200, value
    return value


def is_time(value):
    assert isinstance(value, datetime.datetime) and value.tzinfo is not None, value
    assert abs(value - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(days=1), value
    return True


def test_every_implemented_operation_through_boto3(ivs):
    rt, admin, _ = ivs
    created = rt.create_stage(name="lobby", tags={"team": "a"}, participantTokenConfigurations=[{"userId": "host"}])
    stage = created["stage"]["arn"]
    assert stage.startswith(STAGE_PREFIX) and len(stage.rsplit("/", 1)[1]) == 12
    host = created["participantTokens"][0]
    assert host["capabilities"] == ["PUBLISH", "SUBSCRIBE"] and host["duration"] == 720
    assert is_time(host["expirationTime"])
    guest = rt.create_participant_token(stageArn=stage, userId="guest", attributes={"seat": "2"})["participantToken"]
    assert rt.get_stage(arn=stage)["stage"]["name"] == "lobby"
    assert rt.update_stage(arn=stage, name="hall")["stage"]["name"] == "hall"
    assert [s["arn"] for s in rt.list_stages()["stages"]] == [stage]

    session = join(admin, host["token"])["sessionId"]
    join(admin, guest["token"])
    assert client(admin, host["participantId"], "publish")["published"] is True
    client(admin, guest["participantId"], "subscribe", {"remoteParticipantId": host["participantId"]})
    assert rt.get_stage(arn=stage)["stage"]["activeSessionId"] == session

    got = rt.get_stage_session(stageArn=stage, sessionId=session)["stageSession"]
    assert got["sessionId"] == session and is_time(got["startTime"]) and "endTime" not in got
    assert [s["sessionId"] for s in rt.list_stage_sessions(stageArn=stage)["stageSessions"]] == [session]
    p = rt.get_participant(stageArn=stage, sessionId=session, participantId=guest["participantId"])["participant"]
    assert (p["userId"], p["attributes"], p["state"], p["published"]) == ("guest", {"seat": "2"}, "CONNECTED", False)
    assert is_time(p["firstJoinTime"])
    listed = rt.list_participants(stageArn=stage, sessionId=session, filterByPublished=True)["participants"]
    assert [x["participantId"] for x in listed] == [host["participantId"]]
    events = rt.list_participant_events(stageArn=stage, sessionId=session, participantId=guest["participantId"])
    assert [(e["name"], e.get("remoteParticipantId")) for e in events["events"]] == [
        ("JOINED", None),
        ("SUBSCRIBE_STARTED", host["participantId"]),
    ]
    assert all(is_time(e["eventTime"]) for e in events["events"])

    composition = rt.start_composition(stageArn=stage, destinations=[{"channel": {"channelArn": CHANNEL}}])
    arn = composition["composition"]["arn"]
    assert arn.startswith(f"arn:aws:ivs:{REGION}:{ACCOUNT}:composition/")
    assert composition["composition"]["state"] == "STARTING"
    admin.advance(5)
    active = rt.get_composition(arn=arn)["composition"]
    assert active["state"] == "ACTIVE" and active["destinations"][0]["state"] == "ACTIVE"
    assert is_time(active["startTime"]) and is_time(active["destinations"][0]["startTime"])
    assert [c["arn"] for c in rt.list_compositions(filterByStageArn=stage)["compositions"]] == [arn]
    rt.stop_composition(arn=arn)
    admin.advance(2)
    stopped = rt.get_composition(arn=arn)["composition"]
    assert stopped["state"] == "STOPPED" and is_time(stopped["endTime"])

    rt.disconnect_participant(stageArn=stage, participantId=host["participantId"], reason="done")
    guest_events = rt.list_participant_events(stageArn=stage, sessionId=session, participantId=guest["participantId"])
    assert guest_events["events"][-1]["name"] == "SUBSCRIBE_STOPPED"
    client(admin, guest["participantId"], "leave")
    ended = rt.get_stage_session(stageArn=stage, sessionId=session)["stageSession"]
    assert is_time(ended["endTime"]), "the last participant's leaving ends the session"
    assert "activeSessionId" not in rt.get_stage(arn=stage)["stage"]
    rt.delete_stage(arn=stage)
    assert rt.list_stages()["stages"] == []

    calls = admin.calls()
    for op in [
        "CreateStage", "GetStage", "ListStages", "UpdateStage", "DeleteStage", "CreateParticipantToken",
        "GetParticipant", "ListParticipants", "DisconnectParticipant", "ListParticipantEvents",
        "GetStageSession", "ListStageSessions", "StartComposition", "StopComposition", "GetComposition",
        "ListCompositions",
    ]:
        assert calls.get(op, {}).get("Success", 0) >= 1, (op, calls)


def test_typed_errors_are_boto3_modelled_exceptions(ivs):
    rt, admin, _ = ivs
    missing = f"{STAGE_PREFIX}abcdefabcdef"
    with pytest.raises(rt.exceptions.ResourceNotFoundException) as err:
        rt.get_stage(arn=missing)
    assert err.value.response["exceptionMessage"], err.value.response
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(rt.exceptions.ValidationException) as err:
        rt.create_stage(name="not valid!")
    assert "at 'name' failed to satisfy constraint" in err.value.response["exceptionMessage"]
    stage = rt.create_stage()["stage"]["arn"]
    with pytest.raises(rt.exceptions.ResourceNotFoundException):
        rt.disconnect_participant(stageArn=stage, participantId="nobody")
    with pytest.raises(rt.exceptions.ResourceNotFoundException):
        rt.get_stage_session(stageArn=stage, sessionId="st-abcdefghijklm")
    first = rt.start_composition(stageArn=stage, idempotencyToken="same-token",
                                 destinations=[{"channel": {"channelArn": CHANNEL}}])
    again = rt.start_composition(stageArn=stage, idempotencyToken="same-token",
                                 destinations=[{"channel": {"channelArn": CHANNEL}}])
    assert again["composition"]["arn"] == first["composition"]["arn"], "same idempotencyToken, same composition"
    with pytest.raises(rt.exceptions.ConflictException):
        rt.start_composition(stageArn=stage, idempotencyToken="same-token", tags={"other": "params"},
                             destinations=[{"channel": {"channelArn": CHANNEL}}])
    with pytest.raises(rt.exceptions.AccessDeniedException) as err:
        rt.list_public_keys()
    assert "does not implement ListPublicKeys" in err.value.response["exceptionMessage"]
    assert admin.calls()["StartComposition"] == {"Success": 2, "ConflictException": 1}


def test_list_stages_pages_with_next_token(ivs):
    rt, _, _ = ivs
    made = [rt.create_stage(name=f"s{i}")["stage"]["arn"] for i in range(5)]
    seen, kwargs, pages = [], {"maxResults": 2}, 0
    while True:
        page = rt.list_stages(**kwargs)
        pages += 1
        seen += [s["arn"] for s in page["stages"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert (pages, seen) == (3, made)


def test_a_throttle_is_a_throttling_exception_that_botocore_retries_as_one(ivs):
    rt, admin, url = ivs
    admin.rate_limits({"CreateStage": 0.01})
    rt.create_stage()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        rt.create_stage()
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert admin.calls()["CreateStage"] == {"Success": 1, "ThrottlingException": 1}, "retries off: one attempt"

    assert "ThrottlingException" in ThrottledRetryableChecker._THROTTLED_ERROR_CODES
    retrying = ivs_client(url, attempts=2)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        retrying.create_stage()
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 1, "botocore retried the throttle"
    assert admin.calls()["CreateStage"] == {"Success": 1, "ThrottlingException": 3}
