// What every call of the examples shares: the gateway's address and token,
// the generated services loaded at run time, deadlines, and how a failed
// call's google.rpc details are read.
//
// The types under ./generated come from proto-loader-gen-types (npm run
// generate), as does the ErrorReason object (value name to value name) used to
// parse error reasons; at run time @grpc/proto-loader reads the same .proto files.
import * as path from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import type { ProtoGrpcType as ErrorDetailsTypes } from "./generated/error_details";
import type { ProtoGrpcType as StagesTypes } from "./generated/stages";
import type { ProtoGrpcType as StatusTypes } from "./generated/status";
import type { ProtoGrpcType as StreamSessionsTypes } from "./generated/stream_sessions";
import { ErrorReason, type ErrorReason__Output } from "./generated/gamelift/streams/v1/ErrorReason";
import type { BadRequest__Output } from "./generated/google/rpc/BadRequest";
import type { ErrorInfo__Output } from "./generated/google/rpc/ErrorInfo";
import type { RetryInfo__Output } from "./generated/google/rpc/RetryInfo";

export const ADDRESS = process.env.GLS_GATEWAY_ADDRESS || "127.0.0.1:50051";
export const TOKEN = process.env.GLS_GATEWAY_TOKEN;

// The gateway's protos (proto/) and the google.rpc ones (third_party/googleapis),
// loaded with the same options proto-loader-gen-types was given in package.json.
const REPO = path.resolve(__dirname, "..", "..", "..");
const packageDefinition = protoLoader.loadSync(
  [
    "gamelift/streams/v1/stream_sessions.proto",
    "ivs/realtime/v1/stages.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
  ],
  {
    includeDirs: [path.join(REPO, "proto"), path.join(REPO, "third_party", "googleapis")],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  },
);
export const proto = grpc.loadPackageDefinition(packageDefinition) as unknown as StreamSessionsTypes &
  StagesTypes &
  StatusTypes &
  ErrorDetailsTypes;

// A deadline on every call: without one a call to a stuck gateway waits forever.
export function within(seconds: number): grpc.CallOptions {
  return { deadline: Date.now() + seconds * 1000 };
}

// Adds `authorization: Bearer TOKEN` to the metadata of every call.
export function bearerToken(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

// grpc-js unary calls take a callback; this turns one into a promise.
export function unary<T>(call: (callback: grpc.requestCallback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    call((err, response) => (err ? reject(err) : resolve(response as T))),
  );
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && "code" in err && "metadata" in err;
}

// The google.rpc details of a failed call: the gateway sends a google.rpc.Status
// in the `grpc-status-details-bin` trailer, whose `details` are Any messages.
export interface ErrorDetails {
  info?: ErrorInfo__Output;
  reason?: ErrorReason__Output; // info.reason parsed; ERROR_REASON_UNSPECIFIED for one a newer gateway added
  retry?: RetryInfo__Output;
  badRequest?: BadRequest__Output;
}

export function errorDetails(err: grpc.ServiceError): ErrorDetails {
  const details: ErrorDetails = {};
  const [bin] = err.metadata.get("grpc-status-details-bin");
  if (!Buffer.isBuffer(bin)) return details;
  for (const any of proto.google.rpc.Status.deserialize(bin).details) {
    switch (any.type_url) {
      case "type.googleapis.com/google.rpc.ErrorInfo":
        details.info = proto.google.rpc.ErrorInfo.deserialize(any.value);
        // Reason strings are ErrorReason value names: look the name up in the generated enum.
        details.reason = Object.hasOwn(ErrorReason, details.info.reason)
          ? ErrorReason[details.info.reason as keyof typeof ErrorReason]
          : ErrorReason.ERROR_REASON_UNSPECIFIED;
        break;
      case "type.googleapis.com/google.rpc.RetryInfo":
        details.retry = proto.google.rpc.RetryInfo.deserialize(any.value);
        break;
      case "type.googleapis.com/google.rpc.BadRequest":
        details.badRequest = proto.google.rpc.BadRequest.deserialize(any.value);
        break;
    }
  }
  return details;
}

// "code=UNAVAILABLE reason=THROTTLED": the gRPC code and ErrorInfo's reason.
export function describe(err: unknown): string {
  if (!isServiceError(err)) return err instanceof Error ? err.message : String(err);
  const reason = errorDetails(err).info?.reason ?? "";
  return `code=${grpc.status[err.code]} reason=${reason} (${err.details})`;
}
