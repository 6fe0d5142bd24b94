"""How the examples read a failed call: the google.rpc details the gateway
attaches to every error (both services: StreamSessions and Stages)."""

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class Failed(Exception):
    """An unexpected failure: the example prints it and exits 1."""


def error_details(err: grpc.RpcError):
    """The google.rpc details of a failed call (ErrorInfo, RetryInfo,
    BadRequest, each None when absent), from the google.rpc.Status the
    gateway sends in the grpc-status-details-bin trailer."""
    info, retry, bad_request = None, None, None
    status = rpc_status.from_call(err)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
    return info, retry, bad_request


def describe(err: grpc.RpcError) -> str:
    """"code=UNAVAILABLE reason=THROTTLED (message)": the gRPC code and ErrorInfo's reason."""
    info, _, _ = error_details(err)
    return f"code={err.code().name} reason={info.reason if info else ''} ({err.details()})"
