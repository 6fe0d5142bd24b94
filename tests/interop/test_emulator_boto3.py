"""The emulator driven by boto3's gameliftstreams client from PyPI: every
implemented operation, every error type as boto3 parses it, boto3's paginators
and its stream_session_active waiter, the session lifecycle and its timeouts,
ClientToken replay, and the admin API. State changes are driven by the admin
clock (the fixtures' clock stands still otherwise), never by sleeping; the one
test about real time runs the emulator at --time-scale 50."""

import datetime
import json
import re
import time

import botocore.exceptions
import pytest

from conftest import APP, ARN_PREFIX, GROUP, boto3_client

GROUP_ARN = f"{ARN_PREFIX}streamgroup/{GROUP}"
APP_ARN = f"{ARN_PREFIX}application/{APP}"
SESSION_ARN = re.compile(rf"{re.escape(ARN_PREFIX)}streamsession/{GROUP}/([A-Za-z0-9]+)")
SESSION_STATUSES = {
    "ACTIVATING", "ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION",
    "RECONNECTING", "TERMINATING", "TERMINATED", "ERROR",
}
GETS_PER_SECOND = 20


def start(gls, **params):
    """StartStreamSession on the seeded group and application (overridable)."""
    return gls.start_stream_session(
        **{"Identifier": GROUP, "ApplicationIdentifier": APP, "Protocol": "WebRTC", "SignalRequest": "offer", **params}
    )


def get(gls, session):
    return gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=session)


def status_of(gls, session):
    s = get(gls, session)
    return s["Status"], s.get("StatusReason")


def session_id(arn):
    match = SESSION_ARN.fullmatch(arn)
    assert match, f"not a stream session ARN of {GROUP}: {arn!r}"
    return match.group(1)


def error_of(excinfo):
    """(error code, HTTP status, message) of a ClientError, after checking the
    wire: a request id and X-Amzn-ErrorType on every error."""
    response = excinfo.value.response
    meta = response["ResponseMetadata"]
    assert meta["RequestId"], meta
    assert meta["HTTPHeaders"].get("x-amzn-errortype", "").startswith(response["Error"]["Code"]), meta
    return response["Error"]["Code"], meta["HTTPStatusCode"], response["Error"]["Message"]


def client_error(call, **params):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**params)
    return error_of(err)


def is_time(value):
    """A timezone-aware datetime within a day of now (the simulated clock
    starts at the wall clock)."""
    assert isinstance(value, datetime.datetime), value
    assert value.tzinfo is not None, value
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs(value - now) < datetime.timedelta(days=1), value
    return True


def raw_bodies(gls, operation):
    """The raw JSON bodies of every later response to `operation`."""
    bodies = []

    def keep(http_response, **_):
        bodies.append(json.loads(http_response.content or b"null"))

    gls.meta.events.register(f"after-call.gameliftstreams.{operation}", keep)
    return bodies


# --- seeded resources, stream groups and applications ----------------------------


def test_seeded_group_and_application_are_discoverable(emulator):
    gls, _ = emulator
    groups = gls.list_stream_groups()["Items"]
    assert [g["Id"] for g in groups] == [GROUP]
    assert groups[0]["Arn"] == GROUP_ARN
    assert groups[0]["Status"] == "ACTIVE"
    assert groups[0]["StreamClass"] == "gen4n_high"
    apps = gls.list_applications()["Items"]
    assert [a["Id"] for a in apps] == [APP]
    assert apps[0]["Arn"] == APP_ARN
    assert apps[0]["Status"] == "READY"

    raw = raw_bodies(gls, "GetStreamGroup")
    group = gls.get_stream_group(Identifier=GROUP)
    assert group["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert group["ResponseMetadata"]["RequestId"]
    assert group["Arn"] == GROUP_ARN and group["Id"] == GROUP and group["Status"] == "ACTIVE"
    assert group["AssociatedApplications"] == [APP_ARN]
    assert [loc["LocationName"] for loc in group["LocationStates"]] == ["us-west-2"]
    assert is_time(group["CreatedAt"]) and is_time(group["LastUpdatedAt"])
    assert isinstance(raw[0]["CreatedAt"], (int, float)), "timestamps are epoch seconds on the wire"

    app = gls.get_application(Identifier=APP_ARN)
    assert (app["Id"], app["Arn"], app["Status"]) == (APP, APP_ARN, "READY")
    assert is_time(app["CreatedAt"])
    assert gls.get_stream_group(Identifier=GROUP_ARN)["Id"] == GROUP

    pages = list(gls.get_paginator("list_stream_groups").paginate(PaginationConfig={"PageSize": 1}))
    assert [g["Id"] for p in pages for g in p["Items"]] == [GROUP]
    pages = list(gls.get_paginator("list_applications").paginate(PaginationConfig={"PageSize": 1}))
    assert [a["Id"] for p in pages for a in p["Items"]] == [APP]


def test_stream_groups_and_applications_lifecycle(emulator):
    gls, admin = emulator
    app = gls.create_application(
        Description="my-game",
        RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
        ExecutablePath="bin/game",
        ApplicationSourceUri="s3://bucket/game",
    )
    assert app["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(rf"{re.escape(ARN_PREFIX)}application/{re.escape(app['Id'])}", app["Arn"]), app["Arn"]
    assert app["Status"] in {"INITIALIZED", "PROCESSING"}
    assert is_time(app["CreatedAt"])
    group = gls.create_stream_group(
        Description="my-group",
        StreamClass="gen5n_high",
        LocationConfigurations=[{"LocationName": "us-east-2", "AlwaysOnCapacity": 1}],
    )
    assert group["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(rf"{re.escape(ARN_PREFIX)}streamgroup/{re.escape(group['Id'])}", group["Arn"]), group["Arn"]
    assert group["Status"] == "ACTIVATING"
    assert group["StreamClass"] == "gen5n_high"
    with pytest.raises(gls.exceptions.ConflictException):
        gls.start_stream_session(
            Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC", SignalRequest="o"
        )
    admin.advance(30)
    assert gls.get_application(Identifier=app["Id"])["Status"] == "READY"
    assert gls.get_stream_group(Identifier=group["Arn"])["Status"] == "ACTIVE"
    assoc = gls.associate_applications(Identifier=group["Arn"], ApplicationIdentifiers=[app["Arn"]])
    assert assoc["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert assoc["Arn"] == group["Arn"]
    assert assoc["ApplicationArns"] == [app["Arn"]]
    assert app["Arn"] in gls.get_stream_group(Identifier=group["Id"])["AssociatedApplications"]
    s = gls.start_stream_session(
        Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
        SignalRequest="o", Locations=["us-east-2"],
    )
    assert s["Arn"].startswith(f"{ARN_PREFIX}streamsession/{group['Id']}/")
    assert s["Location"] == "us-east-2"
    assert s["ApplicationArn"] == app["Arn"]
    assert {g["Id"] for g in gls.list_stream_groups()["Items"]} == {GROUP, group["Id"]}
    assert {a["Id"] for a in gls.list_applications()["Items"]} == {APP, app["Id"]}
    by_group = gls.list_stream_sessions(Identifier=group["Arn"])["Items"]
    assert [x["Arn"] for x in by_group] == [s["Arn"]]


# --- sessions ----------------------------------------------------------------


def test_start_and_get_return_the_session(emulator):
    gls, admin = emulator
    s = start(gls, Description="first-session", UserId="player-1", ConnectionTimeoutSeconds=300)
    assert s["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert s["ResponseMetadata"]["RequestId"]
    session_id(s["Arn"])
    assert s["Status"] == "ACTIVATING"
    assert s["StreamGroupId"] == GROUP
    assert s["ApplicationArn"] == APP_ARN
    assert s["Protocol"] == "WebRTC"
    assert s["UserId"] == "player-1"
    assert s["Description"] == "first-session"
    assert s["ConnectionTimeoutSeconds"] == 300
    assert is_time(s["CreatedAt"]) and is_time(s["LastUpdatedAt"])

    now = admin.advance(5)
    active = get(gls, s["Arn"])
    assert active["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert active["Arn"] == s["Arn"]
    assert active["Status"] in SESSION_STATUSES and active["Status"] == "ACTIVE"
    assert active["SignalResponse"], "an ACTIVE session carries its SignalResponse"
    assert active["Location"] == "us-west-2"
    assert active["CreatedAt"] == s["CreatedAt"]
    took = (active["LastUpdatedAt"] - s["CreatedAt"]).total_seconds()
    assert abs(took - 5) < 1, f"ACTIVE {took}s after creation, --activation-seconds is 5"
    assert active["LastUpdatedAt"].timestamp() <= now + 1


def test_identifiers_may_be_arns(emulator):
    gls, admin = emulator
    arn = start(gls, ApplicationIdentifier=APP_ARN, Identifier=GROUP_ARN)["Arn"]
    sid = session_id(arn)
    admin.advance(5)
    for group in (GROUP, GROUP_ARN):
        for session in (sid, arn):
            got = gls.get_stream_session(Identifier=group, StreamSessionIdentifier=session)
            assert (got["Arn"], got["Status"]) == (arn, "ACTIVE")
    assert [x["Arn"] for x in gls.list_stream_sessions(Identifier=GROUP_ARN)["Items"]] == [arn]
    assert admin.session(arn, "connect")[0] == 200, "the admin API takes an ARN too"
    assert status_of(gls, sid) == ("CONNECTED", None)
    ended = gls.terminate_stream_session(Identifier=GROUP_ARN, StreamSessionIdentifier=arn)
    assert ended["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert status_of(gls, arn)[0] == "TERMINATING"


def test_a_whole_session_life(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    sid = session_id(arn)
    assert status_of(gls, arn) == ("ACTIVATING", None)
    admin.advance(5)
    active = get(gls, arn)
    assert active["Status"] == "ACTIVE" and active["SignalResponse"]

    assert admin.session(sid, "connect")[0] == 200
    assert status_of(gls, arn)[0] == "CONNECTED"
    assert admin.session(sid, "disconnect")[0] == 200
    assert status_of(gls, arn)[0] == "PENDING_CLIENT_RECONNECTION"

    conn = gls.create_stream_session_connection(
        Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="new offer"
    )
    assert conn["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert conn["SignalResponse"]
    assert status_of(gls, arn)[0] == "RECONNECTING"
    admin.advance(1)
    assert status_of(gls, arn)[0] == "ACTIVE"

    ended = gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    assert ended["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert status_of(gls, arn)[0] == "TERMINATING"
    admin.advance(2)
    assert status_of(gls, arn) == ("TERMINATED", "apiTerminated")
    listed = gls.list_stream_sessions(Identifier=GROUP)["Items"]
    assert [(x["Arn"], x["Status"], x["StatusReason"]) for x in listed] == [(arn, "TERMINATED", "apiTerminated")]

    again = gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204, "terminating an ended session is a no-op"
    assert status_of(gls, arn) == ("TERMINATED", "apiTerminated")


def test_export_files_succeed_when_the_session_ends(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    code, status, _ = client_error(
        gls.export_stream_session_files, Identifier=GROUP, StreamSessionIdentifier=arn, OutputUri="s3://b/x/"
    )
    assert (code, status) == ("ValidationException", 400), "no export while ACTIVATING (no ConflictException in the model)"
    admin.advance(5)
    exported = gls.export_stream_session_files(
        Identifier=GROUP, StreamSessionIdentifier=arn, OutputUri="s3://bucket/exports/"
    )
    assert exported["ResponseMetadata"]["HTTPStatusCode"] == 200
    meta = get(gls, arn)["ExportFilesMetadata"]
    assert (meta["Status"], meta["OutputUri"]) == ("PENDING", "s3://bucket/exports/")
    assert [x["Arn"] for x in gls.list_stream_sessions(Identifier=GROUP, ExportFilesStatus="PENDING")["Items"]] == [arn]
    gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    admin.advance(2)
    assert get(gls, arn)["ExportFilesMetadata"]["Status"] == "SUCCEEDED"
    assert gls.list_stream_sessions(Identifier=GROUP, ExportFilesStatus="PENDING")["Items"] == []
    succeeded = gls.list_stream_sessions_by_account(ExportFilesStatus="SUCCEEDED")["Items"]
    assert [x["Arn"] for x in succeeded] == [arn]


def test_no_client_connection_waits_for_a_connection(emulator):
    gls, admin = emulator
    arn = start(gls, SignalRequest="NO_CLIENT_CONNECTION", ConnectionTimeoutSeconds=600)["Arn"]
    admin.advance(5)
    s = get(gls, arn)
    assert s["Status"] == "ACTIVE"
    assert not s.get("SignalResponse"), "NO_CLIENT_CONNECTION: ACTIVE without a SignalResponse"
    conn = gls.create_stream_session_connection(Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="offer")
    assert conn["SignalResponse"]


def test_connection_and_export_only_in_their_statuses(emulator):
    gls, admin = emulator
    arn = start(gls, ConnectionTimeoutSeconds=3600)["Arn"]
    admin.advance(5)

    def export():
        return gls.export_stream_session_files(Identifier=GROUP, StreamSessionIdentifier=arn, OutputUri="s3://b/x.zip")

    def connect():
        return gls.create_stream_session_connection(Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="o")

    assert admin.session(arn, "connect")[0] == 200
    assert status_of(gls, arn)[0] == "CONNECTED"
    assert export()["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(gls.exceptions.ConflictException):
        connect()
    assert admin.session(arn, "disconnect")[0] == 200
    assert export()["ResponseMetadata"]["HTTPStatusCode"] == 200, "PENDING_CLIENT_RECONNECTION"
    connect()
    assert status_of(gls, arn)[0] == "RECONNECTING"
    assert export()["ResponseMetadata"]["HTTPStatusCode"] == 200, "RECONNECTING"
    with pytest.raises(gls.exceptions.ConflictException):
        connect()
    gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    admin.advance(3)
    assert status_of(gls, arn) == ("TERMINATED", "apiTerminated")
    with pytest.raises(gls.exceptions.ConflictException):
        connect()
    code, status, _ = client_error(
        gls.export_stream_session_files, Identifier=GROUP, StreamSessionIdentifier=arn, OutputUri="s3://b/y/"
    )
    assert (code, status) == ("ValidationException", 400)
    assert admin.session(arn, "connect")[0] == 409


# --- boto3's waiter and paginators -------------------------------------------


def test_waiter_stream_session_active(emulator):
    """boto3's waiter polls while the session is ACTIVATING and returns once it
    is ACTIVE: the clock moves after its first poll, from botocore's own event."""
    gls, admin = emulator
    arn = start(gls)["Arn"]
    admin.reset_calls()
    polls = []

    def after_poll(parsed, **_):
        polls.append(parsed.get("Status"))
        if len(polls) == 1:
            admin.advance(5)

    gls.meta.events.register("after-call.gameliftstreams.GetStreamSession", after_poll)
    gls.get_waiter("stream_session_active").wait(
        Identifier=GROUP, StreamSessionIdentifier=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 20}
    )
    assert polls == ["ACTIVATING", "ACTIVE"]
    assert admin.calls() == {"GetStreamSession": {"Success": 2}}
    assert admin.call("GET", "calls/peaks") == (200, {"GetStreamSession": 1}), "polls a second apart"


def test_waiter_in_real_time_as_the_readme_shows(emulator_with):
    """The emulator docs' boto3 example on a clock that runs by itself (--time-scale
    50: activation takes 0.1 s of real time)."""
    gls, _ = emulator_with("--time-scale", "50")
    group = gls.list_stream_groups()["Items"][0]
    app = gls.list_applications()["Items"][0]
    s = gls.start_stream_session(
        Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
        SignalRequest="offer", ConnectionTimeoutSeconds=3600,
    )
    gls.get_waiter("stream_session_active").wait(
        Identifier=group["Id"], StreamSessionIdentifier=s["Arn"], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
    )
    active = gls.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=s["Arn"])
    assert active["Status"] == "ACTIVE" and active["SignalResponse"]


def test_waiter_fails_on_error_status(emulator_with):
    gls, admin = emulator_with("--capacity", "us-west-2=1")
    start(gls)
    waiting = start(gls)["Arn"]
    admin.advance(76)
    with pytest.raises(botocore.exceptions.WaiterError):
        gls.get_waiter("stream_session_active").wait(
            Identifier=GROUP, StreamSessionIdentifier=waiting, WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
    assert status_of(gls, waiting) == ("ERROR", "placementTimeout")


def test_paginator_and_filters(emulator):
    gls, admin = emulator
    arns = [start(gls)["Arn"] for _ in range(5)]
    assert len(set(arns)) == 5
    pages = list(
        gls.get_paginator("list_stream_sessions").paginate(Identifier=GROUP, PaginationConfig={"PageSize": 2})
    )
    assert [len(p["Items"]) for p in pages] == [2, 2, 1]
    assert "NextToken" in pages[0] and "NextToken" in pages[1] and "NextToken" not in pages[2]
    assert sorted(s["Arn"] for p in pages for s in p["Items"]) == sorted(arns)
    assert all(s["Status"] == "ACTIVATING" and is_time(s["CreatedAt"]) for p in pages for s in p["Items"])

    admin.advance(5)
    active = gls.list_stream_sessions(Identifier=GROUP, Status="ACTIVE")["Items"]
    assert len(active) == 4, "four slots of capacity (the default); the fifth session waits"
    assert arns[4] not in {s["Arn"] for s in active}, "placement is first come, first served"
    by_account = list(
        gls.get_paginator("list_stream_sessions_by_account").paginate(
            Status="ACTIVATING", PaginationConfig={"PageSize": 1}
        )
    )
    assert [s["Arn"] for p in by_account for s in p["Items"]] == [arns[4]]
    everything = list(gls.get_paginator("list_stream_sessions_by_account").paginate(PaginationConfig={"PageSize": 3}))
    assert sorted(s["Arn"] for p in everything for s in p["Items"]) == sorted(arns)
    assert gls.list_stream_sessions(Identifier=GROUP, Status="TERMINATED")["Items"] == []
    assert gls.list_stream_sessions(Identifier=GROUP, ExportFilesStatus="PENDING")["Items"] == []


def test_pages_default_to_25_and_tokens_are_checked(emulator):
    gls, admin = emulator
    admin.rate_limits({"StartStreamSession": None})
    arns = {start(gls)["Arn"] for _ in range(26)}
    first = gls.list_stream_sessions(Identifier=GROUP)
    assert len(first["Items"]) == 25 and first["NextToken"]
    second = gls.list_stream_sessions(Identifier=GROUP, NextToken=first["NextToken"])
    assert len(second["Items"]) == 1 and not second.get("NextToken")
    assert {s["Arn"] for s in first["Items"] + second["Items"]} == arns
    hundred = gls.list_stream_sessions_by_account(MaxResults=100)
    assert len(hundred["Items"]) == 26 and not hundred.get("NextToken")

    code, status, message = client_error(gls.list_stream_sessions, Identifier=GROUP, NextToken="not-a-token-we-issued")
    assert (code, status) == ("ValidationException", 400), message
    code, status, message = client_error(gls.list_stream_sessions, Identifier=GROUP, MaxResults=101)
    assert (code, status) == ("ValidationException", 400)
    assert "'maxResults'" in message and "less than or equal to 100" in message, message


# --- ClientToken ---------------------------------------------------------------


def test_client_token_makes_one_session(emulator):
    gls, admin = emulator
    token = "boto3-token-0123456789abcdef01234567"
    first = start(gls, ClientToken=token)["Arn"]
    second = start(gls, ClientToken=token)["Arn"]
    assert first == second
    assert [s["Arn"] for s in gls.list_stream_sessions(Identifier=GROUP)["Items"]] == [first]
    admin.advance(5)
    assert start(gls, ClientToken=token)["Arn"] == first, "a replay after a state change still answers the first result"
    code, status, _ = client_error(
        gls.start_stream_session, Identifier=GROUP, ApplicationIdentifier=APP, Protocol="WebRTC",
        SignalRequest="a different offer", ClientToken=token,
    )
    assert (code, status) == ("ConflictException", 409), "same token, different parameters"
    assert len(gls.list_stream_sessions_by_account()["Items"]) == 1


def test_client_token_of_create_stream_session_connection(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    admin.advance(5)
    assert admin.session(arn, "connect")[0] == 200
    assert admin.session(arn, "disconnect")[0] == 200
    token = "reconnect-token-0123456789abcdef0123"
    first = gls.create_stream_session_connection(
        Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="offer-2", ClientToken=token
    )
    again = gls.create_stream_session_connection(
        Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="offer-2", ClientToken=token
    )
    assert again["SignalResponse"] == first["SignalResponse"]
    code, status, _ = client_error(
        gls.create_stream_session_connection,
        Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="offer-3", ClientToken=token,
    )
    assert (code, status) == ("ConflictException", 409)


def test_dropped_response_then_retry_with_the_same_token(emulator):
    """drop_response runs the operation and loses its answer: the client sees a
    broken connection, and its retry with the same ClientToken gets the session
    the lost answer described instead of a second one."""
    gls, admin = emulator
    admin.fault(operation="StartStreamSession", drop_response=1.0, count=1)
    token = "lost-answer-token-0123456789abcdef01"
    with pytest.raises(botocore.exceptions.HTTPClientError):
        start(gls, ClientToken=token)
    arn = start(gls, ClientToken=token)["Arn"]
    assert [s["Arn"] for s in gls.list_stream_sessions(Identifier=GROUP)["Items"]] == [arn]
    assert admin.calls()["StartStreamSession"] == {"ResponseDropped": 1, "Success": 1}


# --- validation ---------------------------------------------------------------


def test_validation_errors_name_the_member(emulator):
    gls, admin = emulator
    cases = [
        ({"ConnectionTimeoutSeconds": 3601}, "connectionTimeoutSeconds"),
        ({"SessionLengthSeconds": 86401}, "sessionLengthSeconds"),
        ({"ClientToken": "x" * 129}, "clientToken"),
        ({"ClientToken": "has a space in it but is long enough to pass"}, "clientToken"),
        ({"Description": "x" * 81}, "description"),
        ({"Locations": ["not a location!"]}, "locations"),
        ({"AdditionalLaunchArgs": ["-x"] * 101}, "additionalLaunchArgs"),
        ({"AdditionalEnvironmentVariables": {"1BAD": "x"}}, "additionalEnvironmentVariables"),
        ({"DisplayConfiguration": {"Resolution": {"Width": 5000, "Height": 720}}}, "displayConfiguration.resolution.width"),
    ]
    for extra, member in cases:
        code, status, message = client_error(start, gls=gls, **extra)
        assert (code, status) == ("ValidationException", 400), extra
        assert message.startswith("1 validation error detected: "), message
        assert f"'{member}" in message, message
    assert admin.calls()["StartStreamSession"] == {"ValidationException": len(cases)}
    assert gls.list_stream_sessions_by_account()["Items"] == [], "a rejected call starts nothing"


def test_validation_messages_are_aws_own(emulator):
    """Exactly AWS's wording, for values boto3 itself would refuse to send
    (sent by a client with boto3's parameter validation off)."""
    gls, admin = emulator
    raw = boto3_client(admin.url, validate=False)
    _, status, message = client_error(start, gls=raw, ConnectionTimeoutSeconds=0)
    assert status == 400
    assert message == (
        "1 validation error detected: Value '0' at 'connectionTimeoutSeconds' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1"
    )
    _, _, message = client_error(start, gls=gls, SessionLengthSeconds=86401)
    assert message == (
        "1 validation error detected: Value '86401' at 'sessionLengthSeconds' failed to satisfy "
        "constraint: Member must have value less than or equal to 86400"
    )
    code, status, message = client_error(start, gls=raw, ClientToken="x" * 31)
    assert (code, status) == ("ValidationException", 400)
    assert "'clientToken'" in message and "Member must have length greater than or equal to 32" in message, message
    _, _, message = client_error(start, gls=raw, ConnectionTimeoutSeconds=0, SessionLengthSeconds=86401)
    assert message.startswith("2 validation errors detected: "), message
    assert "'connectionTimeoutSeconds'" in message and "'sessionLengthSeconds'" in message, message
    code, _, message = client_error(
        raw.start_stream_session, Identifier=GROUP, ApplicationIdentifier=APP, Protocol="WebRTC"
    )
    assert code == "ValidationException" and "'signalRequest'" in message, message
    code, _, message = client_error(raw.list_stream_sessions, Identifier=GROUP, MaxResults=0)
    assert code == "ValidationException" and "'maxResults'" in message, message
    code, _, message = client_error(start, gls=raw, Protocol="SRT")
    assert code == "ValidationException" and "'protocol'" in message, message


def test_sensitive_values_are_never_echoed(emulator):
    gls, _ = emulator
    secret = "arn:aws:iam::123456789012:user/do-not-echo-me"
    code, _, message = client_error(start, gls=gls, RoleArn=secret)
    assert code == "ValidationException" and "'roleArn'" in message, message
    assert "do-not-echo-me" not in message, message


# --- errors ---------------------------------------------------------------------


def test_every_error_type_as_boto3_parses_it(emulator):
    gls, admin = emulator
    code, status, _ = client_error(gls.get_stream_session, Identifier=GROUP, StreamSessionIdentifier="NoSuchSession")
    assert (code, status) == ("ResourceNotFoundException", 404)
    with pytest.raises(gls.exceptions.ResourceNotFoundException):
        gls.get_stream_group(Identifier="sg-unknown")
    assert client_error(start, gls=gls, Identifier="sg-999999999")[:2] == ("ResourceNotFoundException", 404)
    assert client_error(gls.list_stream_sessions, Identifier="sg-999999999")[:2] == ("ResourceNotFoundException", 404)
    assert client_error(gls.get_application, Identifier="a-999999999")[:2] == ("ResourceNotFoundException", 404)

    arn = start(gls)["Arn"]
    code, status, _ = client_error(
        gls.create_stream_session_connection, Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="o"
    )
    assert (code, status) == ("ConflictException", 409), "no connection while ACTIVATING"
    code, status, _ = client_error(gls.terminate_stream_session, Identifier=GROUP, StreamSessionIdentifier=arn)
    assert (code, status) == ("ValidationException", 400), "no termination while ACTIVATING"

    def faulted(rule, expected):
        admin.fault(operation="GetStreamSession", count=1, **rule)
        with pytest.raises(getattr(gls.exceptions, expected[0])) as err:
            get(gls, arn)
        assert error_of(err)[:2] == expected

    faulted({"throttle": 1.0}, ("ThrottlingException", 429))
    faulted({"internal_error": 1.0}, ("InternalServerException", 500))
    admin.fault(operation="GetStreamSession", count=1, drop_connection=1.0)
    with pytest.raises(botocore.exceptions.HTTPClientError):
        get(gls, arn)
    assert get(gls, arn)["Status"] == "ACTIVATING", "count=1 rules are spent"

    assert admin.calls()["GetStreamSession"] == {
        "ResourceNotFoundException": 1,
        "ThrottlingException": 1,
        "InternalServerException": 1,
        "ConnectionDropped": 1,
        "Success": 1,
    }


def test_rate_limit_throttles_the_third_quick_call(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    admin.rate_limits({"GetStreamSession": 2})
    outcomes = []
    for _ in range(3):
        try:
            get(gls, arn)
            outcomes.append("ok")
        except gls.exceptions.ThrottlingException as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            outcomes.append("throttled")
    assert outcomes == ["ok", "ok", "throttled"]
    assert admin.calls()["GetStreamSession"] == {"Success": 2, "ThrottlingException": 1}

    admin.rate_limits({"GetStreamSession": None})
    for _ in range(GETS_PER_SECOND + 10):
        get(gls, arn)
    assert admin.calls()["GetStreamSession"]["Success"] == 2 + GETS_PER_SECOND + 10


def test_default_rate_limit_is_aws_20_per_second(emulator):
    """A full bucket of 20 (one second's worth), refilled at 20/s: however fast
    this machine is, 30 calls in `elapsed` seconds succeed at least 20 and at
    most 20 + 20 * elapsed times."""
    gls, admin = emulator
    arn = start(gls)["Arn"]
    calls = GETS_PER_SECOND + 10
    succeeded = 0
    began = time.monotonic()
    for _ in range(calls):
        try:
            get(gls, arn)
            succeeded += 1
        except gls.exceptions.ThrottlingException:
            pass
    elapsed = time.monotonic() - began
    assert GETS_PER_SECOND <= succeeded <= GETS_PER_SECOND * (1 + elapsed), (succeeded, elapsed)
    counted = {"Success": succeeded, "ThrottlingException": calls - succeeded}
    assert admin.calls()["GetStreamSession"] == {k: n for k, n in counted.items() if n}


def test_quota_402_and_access_denied_403_parse_as_modeled_errors(emulator):
    gls, admin = emulator
    for code, status in (("ServiceQuotaExceededException", 402), ("AccessDeniedException", 403)):
        admin.fault(operation="ListStreamGroups", count=1, error=code)
        with pytest.raises(getattr(gls.exceptions, code)) as err:
            gls.list_stream_groups()
        assert error_of(err)[:2] == (code, status)
    status, headers, body = admin.request("POST", "faults", {"error": "NoSuchException"})
    assert status == 400 and headers.get("x-amzn-errortype", "").startswith("ValidationException"), (headers, body)
    assert "Message" in body


def test_operations_not_implemented_answer_501_after_validation(emulator):
    gls, _ = emulator
    code, status, _ = client_error(gls.list_tags_for_resource, ResourceArn=GROUP_ARN)
    assert (code, status) == ("NotImplementedException", 501)
    code, status, message = client_error(gls.update_stream_group, Identifier=GROUP, Description="x" * 81)
    assert (code, status) == ("ValidationException", 400), "validated before anything else"
    assert "'description'" in message, message


# --- timeouts and capacity --------------------------------------------------------


def ending(gls, session, reason):
    """A session past a timeout: TERMINATING (for --termination-seconds, 2) or
    TERMINATED, with the timeout as its StatusReason either way."""
    status, why = status_of(gls, session)
    assert status in {"TERMINATING", "TERMINATED"} and why == reason, (status, why)
    return status


def test_no_client_within_the_connection_timeout(emulator):
    gls, admin = emulator
    arn = start(gls, ConnectionTimeoutSeconds=60)["Arn"]
    default = start(gls)["Arn"]
    admin.advance(5 + 55)
    assert status_of(gls, arn) == ("ACTIVE", None)
    admin.advance(6)
    ending(gls, arn, "connectionTimeout")
    admin.advance(2)
    assert status_of(gls, arn) == ("TERMINATED", "connectionTimeout")
    assert status_of(gls, default) == ("ACTIVE", None), "ConnectionTimeoutSeconds defaults to 120"
    admin.advance(60)
    ending(gls, default, "connectionTimeout")
    admin.advance(2)
    assert status_of(gls, default) == ("TERMINATED", "connectionTimeout")
    ended = gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    assert ended["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert status_of(gls, arn) == ("TERMINATED", "connectionTimeout"), "no-op on an ended session"


def test_no_reconnect_within_the_connection_timeout(emulator):
    gls, admin = emulator
    arn = start(gls, ConnectionTimeoutSeconds=60)["Arn"]
    admin.advance(5)
    assert admin.session(arn, "connect")[0] == 200
    admin.advance(600)
    assert status_of(gls, arn) == ("CONNECTED", None), "a connected client keeps the session"
    assert admin.session(arn, "disconnect")[0] == 200
    admin.advance(55)
    assert status_of(gls, arn) == ("PENDING_CLIENT_RECONNECTION", None)
    admin.advance(6)
    ending(gls, arn, "reconnectionTimeout")
    admin.advance(2)
    assert status_of(gls, arn) == ("TERMINATED", "reconnectionTimeout")


def test_session_length_ends_even_a_connected_session(emulator):
    gls, admin = emulator
    arn = start(gls, SessionLengthSeconds=300, ConnectionTimeoutSeconds=3600)["Arn"]
    admin.advance(5)
    assert admin.session(arn, "connect")[0] == 200
    admin.advance(297)
    assert status_of(gls, arn) == ("CONNECTED", None), "SessionLengthSeconds counts from ACTIVE"
    admin.advance(6)
    ending(gls, arn, "maxSessionLengthTimeout")
    admin.advance(2)
    assert status_of(gls, arn) == ("TERMINATED", "maxSessionLengthTimeout")


def test_placement_timeout_when_capacity_is_exhausted(emulator_with):
    gls, admin = emulator_with("--capacity", "us-west-2=1")
    placed = start(gls, ConnectionTimeoutSeconds=3600)["Arn"]
    waiting = start(gls)["Arn"]
    admin.advance(70)
    assert status_of(gls, placed) == ("ACTIVE", None)
    assert status_of(gls, waiting) == ("ACTIVATING", None)
    code, status, _ = client_error(gls.terminate_stream_session, Identifier=GROUP, StreamSessionIdentifier=waiting)
    assert (code, status) == ("ValidationException", 400)
    admin.advance(6)
    assert status_of(gls, waiting) == ("ERROR", "placementTimeout")
    assert status_of(gls, placed) == ("ACTIVE", None)
    assert [s["Arn"] for s in gls.list_stream_sessions(Identifier=GROUP, Status="ERROR")["Items"]] == [waiting]
    gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=waiting)
    assert status_of(gls, waiting) == ("ERROR", "placementTimeout"), "no-op on an ended session"


def test_released_capacity_goes_to_the_first_waiting_session(emulator_with):
    gls, admin = emulator_with("--capacity", "us-west-2=1")
    first = start(gls, ConnectionTimeoutSeconds=3600)["Arn"]
    second = start(gls, ConnectionTimeoutSeconds=3600)["Arn"]
    third = start(gls, ConnectionTimeoutSeconds=3600)["Arn"]
    admin.advance(5)
    assert status_of(gls, first)[0] == "ACTIVE"
    gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=first)
    admin.advance(2)
    assert status_of(gls, first) == ("TERMINATED", "apiTerminated")
    admin.advance(6)
    assert status_of(gls, second) == ("ACTIVE", None), "placed when the first released its capacity"
    assert status_of(gls, third) == ("ACTIVATING", None)
    admin.advance(63)
    assert status_of(gls, third) == ("ERROR", "placementTimeout")
    assert status_of(gls, second) == ("ACTIVE", None)


def test_placement_takes_the_first_location_with_capacity(emulator_with):
    gls, admin = emulator_with("--capacity", "us-west-2=1,us-east-1=1")
    east = start(gls, Locations=["us-east-1", "us-west-2"])["Arn"]
    west = start(gls, Locations=["us-east-1", "us-west-2"])["Arn"]
    default = start(gls)["Arn"]
    admin.advance(5)
    assert (get(gls, east)["Location"], get(gls, east)["Status"]) == ("us-east-1", "ACTIVE")
    assert (get(gls, west)["Location"], get(gls, west)["Status"]) == ("us-west-2", "ACTIVE")
    assert get(gls, default)["Status"] == "ACTIVATING"


# --- the admin API ------------------------------------------------------------------


def test_calls_are_counted_per_operation_and_outcome(emulator):
    gls, admin = emulator
    status, headers, body = admin.request("GET", "health")
    assert (status, body) == (200, {"status": "ok"})
    arn = start(gls)["Arn"]
    assert admin.calls() == {"StartStreamSession": {"Success": 1}}
    admin.reset_calls()
    assert admin.calls() == {}
    for _ in range(3):
        get(gls, arn)
    assert admin.calls() == {"GetStreamSession": {"Success": 3}}
    assert admin.calls()["GetStreamSession"]["Success"] == 3


def test_fault_rules_are_listed_spent_and_removed(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    twice = admin.fault(operation="GetStreamSession", throttle=1.0, count=2)
    status, rules = admin.call("GET", "faults")
    assert status == 200
    assert [(r["id"], r["operation"], r["throttle"]) for r in rules] == [(twice, "GetStreamSession", 1.0)]
    for _ in range(2):
        with pytest.raises(gls.exceptions.ThrottlingException):
            get(gls, arn)
    assert get(gls, arn)["Arn"] == arn

    admin.fault(internal_error=1.0)
    with pytest.raises(gls.exceptions.InternalServerException):
        gls.list_stream_groups()
    with pytest.raises(gls.exceptions.InternalServerException):
        get(gls, arn)
    assert admin.call("DELETE", "faults")[0] == 200
    assert admin.call("GET", "faults") == (200, [])
    assert get(gls, arn)["Arn"] == arn

    admin.fault(operation="GetStreamSession", latency_ms=300, count=1)
    began = time.monotonic()
    get(gls, arn)
    assert time.monotonic() - began >= 0.3


def test_fault_outcomes_in_the_documented_order(emulator):
    """One rule rolling several dice at probability 1: a dropped connection
    beats throttling, which beats an internal error, which beats `error`,
    which beats a dropped response."""
    gls, admin = emulator
    arn = start(gls)["Arn"]
    admin.reset_calls()
    every = {"throttle": 1.0, "internal_error": 1.0, "error": "AccessDeniedException", "drop_response": 1.0}
    admin.fault(operation="GetStreamSession", count=1, drop_connection=1.0, **every)
    with pytest.raises(botocore.exceptions.HTTPClientError):
        get(gls, arn)
    admin.fault(operation="GetStreamSession", count=1, **every)
    with pytest.raises(gls.exceptions.ThrottlingException):
        get(gls, arn)
    admin.fault(operation="GetStreamSession", count=1, **{**every, "throttle": 0.0})
    with pytest.raises(gls.exceptions.InternalServerException):
        get(gls, arn)
    admin.fault(operation="GetStreamSession", count=1, error="AccessDeniedException", drop_response=1.0)
    with pytest.raises(gls.exceptions.AccessDeniedException):
        get(gls, arn)
    admin.fault(operation="GetStreamSession", count=1, drop_response=1.0)
    with pytest.raises(botocore.exceptions.HTTPClientError):
        get(gls, arn)
    assert get(gls, arn)["Arn"] == arn
    assert admin.calls() == {
        "GetStreamSession": {
            "ConnectionDropped": 1,
            "ThrottlingException": 1,
            "InternalServerException": 1,
            "AccessDeniedException": 1,
            "ResponseDropped": 1,
            "Success": 1,
        }
    }


def test_admin_connect_is_refused_unless_active(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    status, headers, body = admin.request("POST", f"sessions/{session_id(arn)}/connect")
    assert status == 409 and headers.get("x-amzn-errortype", "").startswith("ConflictException"), (headers, body)
    assert body["Message"]
    assert admin.session("NoSuchSession", "connect")[0] == 404
    status, _ = admin.call("POST", "clock/advance", {"seconds": -5})
    assert status == 400


def test_the_clock_cannot_be_advanced_past_the_year_9999(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    for seconds in (1e308, 253402300799):
        status, body = admin.call("POST", "clock/advance", {"seconds": seconds})
        assert status == 400 and "9999-12-31T23:59:59Z" in body["Message"], body
    session = gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    assert session["LastUpdatedAt"].year < 9999


# --- emulator flags ------------------------------------------------------------------


def test_flags_set_region_account_capacity_and_durations(emulator_with):
    gls, admin = emulator_with(
        "--region", "eu-west-1", "--account-id", "123456789012", "--capacity", "eu-west-1=1",
        "--activation-seconds", "20", "--placement-timeout-seconds", "30",
        "--reconnect-seconds", "3", "--termination-seconds", "10",
    )
    prefix = "arn:aws:gameliftstreams:eu-west-1:123456789012:"
    group = gls.get_stream_group(Identifier=GROUP)
    assert group["Arn"] == f"{prefix}streamgroup/{GROUP}"
    assert [loc["LocationName"] for loc in group["LocationStates"]] == ["eu-west-1"]
    assert gls.get_application(Identifier=APP)["Arn"] == f"{prefix}application/{APP}"
    first = start(gls)["Arn"]
    second = start(gls)["Arn"]
    assert re.fullmatch(rf"{re.escape(prefix)}streamsession/{GROUP}/[A-Za-z0-9]+", first), first
    admin.advance(19)
    assert status_of(gls, first)[0] == "ACTIVATING"
    admin.advance(2)
    assert status_of(gls, first)[0] == "ACTIVE"
    assert get(gls, first)["Location"] == "eu-west-1"
    assert status_of(gls, second) == ("ACTIVATING", None)
    admin.advance(10)
    assert status_of(gls, second) == ("ERROR", "placementTimeout")
    assert admin.session(first, "connect")[0] == 200
    assert admin.session(first, "disconnect")[0] == 200
    gls.create_stream_session_connection(Identifier=GROUP, StreamSessionIdentifier=first, SignalRequest="o")
    admin.advance(2)
    assert status_of(gls, first)[0] == "RECONNECTING"
    admin.advance(2)
    assert status_of(gls, first)[0] == "ACTIVE"
    gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=first)
    admin.advance(9)
    assert status_of(gls, first)[0] == "TERMINATING"
    admin.advance(2)
    assert status_of(gls, first) == ("TERMINATED", "apiTerminated")


def test_rate_limit_flags(emulator_with):
    limited, limited_admin = emulator_with("--rate-limit", "GetStreamSession=2")
    arn = start(limited)["Arn"]
    outcomes = []
    for _ in range(3):
        try:
            get(limited, arn)
            outcomes.append("ok")
        except limited.exceptions.ThrottlingException:
            outcomes.append("throttled")
    assert outcomes == ["ok", "ok", "throttled"]

    free, free_admin = emulator_with("--no-rate-limits")
    calls = GETS_PER_SECOND + 10
    arns = {start(free)["Arn"] for _ in range(calls)}
    assert len(arns) == calls
    for _ in range(calls):
        get(free, next(iter(arns)))
    assert free_admin.calls() == {"StartStreamSession": {"Success": calls}, "GetStreamSession": {"Success": calls}}


def test_published_rate_limits_of_groups_and_applications(emulator):
    """AWS's table: 1/s CreateStreamGroup, 5/s CreateApplication, 10/s
    GetStreamGroup; a full bucket holds one second's worth, so n quick calls in
    `elapsed` seconds succeed between rate and rate * (1 + elapsed) times."""
    gls, admin = emulator

    def burst(rate, n, call):
        ok = 0
        began = time.monotonic()
        for _ in range(n):
            try:
                call()
                ok += 1
            except gls.exceptions.ThrottlingException:
                pass
        elapsed = time.monotonic() - began
        assert rate <= ok <= rate * (1 + elapsed), (call, ok, elapsed)

    burst(1, 3, lambda: gls.create_stream_group(Description="g", StreamClass="gen4n_high"))
    burst(5, 8, lambda: gls.create_application(
        Description="a", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
        ExecutablePath="bin/game", ApplicationSourceUri="s3://bucket/game",
    ))
    burst(10, 14, lambda: gls.get_stream_group(Identifier=GROUP))
