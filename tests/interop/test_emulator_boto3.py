"""The emulator driven by boto3's gameliftstreams client from PyPI: every
implemented operation, every error type as boto3 parses it, boto3's paginator
and its stream_session_active waiter. State changes are driven by the admin
clock, never by sleeping."""

import datetime

import botocore.exceptions
import pytest

from conftest import APP, GROUP

ARN_PREFIX = "arn:aws:gameliftstreams:us-west-2:111122223333:"


def start(gls, **extra):
    return gls.start_stream_session(
        Identifier=GROUP, ApplicationIdentifier=APP, Protocol="WebRTC", SignalRequest="offer", **extra
    )


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def test_seeded_group_and_application_are_discoverable(emulator):
    gls, _ = emulator
    groups = gls.list_stream_groups()["Items"]
    assert [g["Id"] for g in groups] == [GROUP]
    assert groups[0]["Arn"] == f"{ARN_PREFIX}streamgroup/{GROUP}"
    assert groups[0]["Status"] == "ACTIVE"
    apps = gls.list_applications()["Items"]
    assert [a["Id"] for a in apps] == [APP]
    group = gls.get_stream_group(Identifier=GROUP)
    assert group["AssociatedApplications"] == [apps[0]["Arn"]]
    assert group["LocationStates"][0]["LocationName"] == "us-west-2"
    assert isinstance(group["CreatedAt"], datetime.datetime)
    app = gls.get_application(Identifier=apps[0]["Arn"])
    assert app["Status"] == "READY"


def test_a_whole_session_life(emulator):
    gls, admin = emulator
    s = start(gls)
    assert s["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert s["ResponseMetadata"]["RequestId"]
    arn = s["Arn"]
    assert arn.startswith(f"{ARN_PREFIX}streamsession/{GROUP}/")
    assert s["Status"] == "ACTIVATING"
    assert isinstance(s["CreatedAt"], datetime.datetime)
    session_id = arn.rsplit("/", 1)[1]

    def status():
        return gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)["Status"]

    admin.advance(5)
    active = gls.get_stream_session(Identifier=f"{ARN_PREFIX}streamgroup/{GROUP}", StreamSessionIdentifier=session_id)
    assert active["Status"] == "ACTIVE" and active["SignalResponse"]
    assert admin.call("POST", f"sessions/{session_id}/connect")[0] == 200
    assert status() == "CONNECTED"
    assert admin.call("POST", f"sessions/{session_id}/disconnect")[0] == 200
    assert status() == "PENDING_CLIENT_RECONNECTION"
    conn = gls.create_stream_session_connection(
        Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="new offer"
    )
    assert conn["SignalResponse"]
    assert status() == "RECONNECTING"
    admin.advance(1)
    assert status() == "ACTIVE"
    exported = gls.export_stream_session_files(
        Identifier=GROUP, StreamSessionIdentifier=arn, OutputUri="s3://bucket/exports/"
    )
    assert exported["ResponseMetadata"]["HTTPStatusCode"] == 200
    ended = gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    assert ended["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert status() == "TERMINATING"
    admin.advance(2)
    final = gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    assert (final["Status"], final["StatusReason"]) == ("TERMINATED", "apiTerminated")
    assert final["ExportFilesMetadata"]["Status"] == "SUCCEEDED"


def test_waiter_stream_session_active(emulator):
    gls, admin = emulator
    arn = start(gls)["Arn"]
    admin.advance(5)
    gls.get_waiter("stream_session_active").wait(
        Identifier=GROUP, StreamSessionIdentifier=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 3}
    )


def test_waiter_fails_on_error_status(emulator_with):
    gls, admin = emulator_with("--capacity", "us-west-2=1")
    start(gls)
    waiting = start(gls)["Arn"]
    admin.advance(75)
    with pytest.raises(botocore.exceptions.WaiterError):
        gls.get_waiter("stream_session_active").wait(
            Identifier=GROUP, StreamSessionIdentifier=waiting, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
        )
    s = gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=waiting)
    assert (s["Status"], s["StatusReason"]) == ("ERROR", "placementTimeout")


def test_paginator_and_filters(emulator):
    gls, admin = emulator
    arns = [start(gls)["Arn"] for _ in range(5)]
    pages = list(
        gls.get_paginator("list_stream_sessions").paginate(
            Identifier=GROUP, PaginationConfig={"PageSize": 2}
        )
    )
    assert len(pages) == 3
    assert [s["Arn"] for p in pages for s in p["Items"]] == arns
    admin.advance(5)
    active = gls.list_stream_sessions(Identifier=GROUP, Status="ACTIVE")["Items"]
    assert len(active) == 4, "four slots of capacity; the fifth session waits"
    by_account = list(
        gls.get_paginator("list_stream_sessions_by_account").paginate(
            Status="ACTIVATING", PaginationConfig={"PageSize": 1}
        )
    )
    assert [s["Arn"] for p in by_account for s in p["Items"]] == [arns[4]]
    assert gls.list_stream_sessions(Identifier=GROUP, ExportFilesStatus="PENDING")["Items"] == []


def test_client_token_makes_one_session(emulator):
    gls, _ = emulator
    token = "boto3-token-0123456789abcdef01234567"
    first = start(gls, ClientToken=token)["Arn"]
    second = start(gls, ClientToken=token)["Arn"]
    assert first == second
    assert len(gls.list_stream_sessions(Identifier=GROUP)["Items"]) == 1
    with pytest.raises(botocore.exceptions.ClientError) as conflict:
        gls.start_stream_session(
            Identifier=GROUP, ApplicationIdentifier=APP, Protocol="WebRTC",
            SignalRequest="a different offer", ClientToken=token,
        )
    assert error_of(conflict)[:2] == ("ConflictException", 409)


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
        with pytest.raises(botocore.exceptions.ClientError) as bad:
            start(gls, **extra)
        code, status, message = error_of(bad)
        assert (code, status) == ("ValidationException", 400), extra
        assert f"'{member}" in message, message
    assert admin.calls()["StartStreamSession"] == {"ValidationException": len(cases)}


def test_every_error_type_as_boto3_parses_it(emulator):
    gls, admin = emulator
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier="NoSuchSession")
    assert error_of(missing)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(gls.exceptions.ResourceNotFoundException):
        gls.get_stream_group(Identifier="sg-unknown")

    arn = start(gls)["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as conflict:
        gls.create_stream_session_connection(Identifier=GROUP, StreamSessionIdentifier=arn, SignalRequest="o")
    assert error_of(conflict)[:2] == ("ConflictException", 409)
    with pytest.raises(botocore.exceptions.ClientError) as activating:
        gls.terminate_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
    assert error_of(activating)[:2] == ("ValidationException", 400)

    def faulted(rule, expected_code, expected_status):
        assert admin.call("POST", "faults", {"operation": "GetStreamSession", "count": 1, **rule})[0] == 201
        with pytest.raises(botocore.exceptions.ClientError) as err:
            gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
        assert error_of(err)[:2] == (expected_code, expected_status)

    faulted({"throttle": 1.0}, "ThrottlingException", 429)
    faulted({"internal_error": 1.0}, "InternalServerException", 500)
    assert admin.call("POST", "faults", {"operation": "GetStreamSession", "count": 1, "drop_connection": 1.0})[0] == 201
    with pytest.raises(botocore.exceptions.HTTPClientError):
        gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)

    assert admin.call("PUT", "rate-limits", {"GetStreamSession": 2})[0] == 200
    outcomes = []
    for _ in range(3):
        try:
            gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)
            outcomes.append("ok")
        except gls.exceptions.ThrottlingException:
            outcomes.append("throttled")
    assert outcomes == ["ok", "ok", "throttled"]
    gets = admin.calls()["GetStreamSession"]
    assert gets == {
        "ResourceNotFoundException": 1,
        "ThrottlingException": 2,
        "InternalServerException": 1,
        "ConnectionDropped": 1,
        "Success": 2,
    }


def test_quota_402_and_access_denied_403_parse_as_modeled_errors(emulator):
    gls, admin = emulator
    for code, status in (("ServiceQuotaExceededException", 402), ("AccessDeniedException", 403)):
        assert admin.call("POST", "faults", {"operation": "ListStreamGroups", "count": 1, "error": code})[0] == 201
        with pytest.raises(getattr(gls.exceptions, code)) as err:
            gls.list_stream_groups()
        assert error_of(err)[:2] == (code, status)
    assert admin.call("POST", "faults", {"error": "NoSuchException"})[0] == 400


def test_stream_groups_and_applications_lifecycle(emulator):
    gls, admin = emulator
    app = gls.create_application(
        Description="my-game",
        RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
        ExecutablePath="bin/game",
        ApplicationSourceUri="s3://bucket/game",
    )
    assert app["ResponseMetadata"]["HTTPStatusCode"] == 201
    group = gls.create_stream_group(
        Description="my-group",
        StreamClass="gen5n_high",
        LocationConfigurations=[{"LocationName": "us-east-2", "AlwaysOnCapacity": 1}],
    )
    assert group["Status"] == "ACTIVATING"
    with pytest.raises(gls.exceptions.ConflictException):
        gls.start_stream_session(
            Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC", SignalRequest="o"
        )
    admin.advance(30)
    assert gls.get_application(Identifier=app["Id"])["Status"] == "READY"
    assoc = gls.associate_applications(Identifier=group["Arn"], ApplicationIdentifiers=[app["Arn"]])
    assert assoc["ApplicationArns"] == [app["Arn"]]
    s = gls.start_stream_session(
        Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
        SignalRequest="o", Locations=["us-east-2"],
    )
    assert s["Location"] == "us-east-2"
    assert {g["Id"] for g in gls.list_stream_groups()["Items"]} == {GROUP, group["Id"]}
    assert {a["Id"] for a in gls.list_applications()["Items"]} == {APP, app["Id"]}


def test_timeouts_end_sessions(emulator_with):
    gls, admin = emulator_with("--capacity", "us-west-2=2")
    never_connected = start(gls, ConnectionTimeoutSeconds=60)["Arn"]
    disconnected = start(gls, ConnectionTimeoutSeconds=60)["Arn"]
    admin.advance(5)
    session_id = disconnected.rsplit("/", 1)[1]
    admin.call("POST", f"sessions/{session_id}/connect")
    admin.call("POST", f"sessions/{session_id}/disconnect")
    admin.advance(60 + 2)
    reasons = {
        arn: gls.get_stream_session(Identifier=GROUP, StreamSessionIdentifier=arn)["StatusReason"]
        for arn in (never_connected, disconnected)
    }
    assert reasons == {never_connected: "connectionTimeout", disconnected: "reconnectionTimeout"}
