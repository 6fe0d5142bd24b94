// A backend's life with a stream session, through the gamelift-streams-gateway
// sidecar: start (retrying safely), hand the signal response to the client,
// reconnect, watch (and resume), terminate. examples/README.md is the script.
//
// The types under ./generated come from proto-loader-gen-types (npm run
// generate), as does the ErrorReason object (value name to value name) used to
// parse error reasons; at run time @grpc/proto-loader reads the same .proto files.
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import type { ProtoGrpcType as ErrorDetailsTypes } from "./generated/error_details";
import type { ProtoGrpcType as StatusTypes } from "./generated/status";
import type { ProtoGrpcType as StreamSessionsTypes } from "./generated/stream_sessions";
import { ErrorReason, type ErrorReason__Output } from "./generated/gamelift/streams/v1/ErrorReason";
import type { CreateStreamSessionConnectionResponse__Output } from "./generated/gamelift/streams/v1/CreateStreamSessionConnectionResponse";
import type { StartStreamSessionResponse__Output } from "./generated/gamelift/streams/v1/StartStreamSessionResponse";
import type { StreamSession__Output } from "./generated/gamelift/streams/v1/StreamSession";
import type { StreamSessionsClient } from "./generated/gamelift/streams/v1/StreamSessions";
import type { TerminateStreamSessionResponse__Output } from "./generated/gamelift/streams/v1/TerminateStreamSessionResponse";
import type { BadRequest__Output } from "./generated/google/rpc/BadRequest";
import type { ErrorInfo__Output } from "./generated/google/rpc/ErrorInfo";
import type { RetryInfo__Output } from "./generated/google/rpc/RetryInfo";

const ADDRESS = process.env.GLS_GATEWAY_ADDRESS || "127.0.0.1:50051";
const TOKEN = process.env.GLS_GATEWAY_TOKEN;
const STREAM_GROUP = process.env.GLS_STREAM_GROUP || "sg-000000001";
const APPLICATION = process.env.GLS_APPLICATION || "a-000000001";

// The gateway's protos (proto/) and the google.rpc ones (third_party/googleapis),
// loaded with the same options proto-loader-gen-types was given in package.json.
const REPO = path.resolve(__dirname, "..", "..", "..");
const packageDefinition = protoLoader.loadSync(
  ["gamelift/streams/v1/stream_sessions.proto", "google/rpc/status.proto", "google/rpc/error_details.proto"],
  {
    includeDirs: [path.join(REPO, "proto"), path.join(REPO, "third_party", "googleapis")],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  },
);
const proto = grpc.loadPackageDefinition(packageDefinition) as unknown as StreamSessionsTypes &
  StatusTypes &
  ErrorDetailsTypes;

// A deadline on every call: without one a call to a stuck gateway waits forever.
function within(seconds: number): grpc.CallOptions {
  return { deadline: Date.now() + seconds * 1000 };
}

// Adds `authorization: Bearer TOKEN` to the metadata of every call.
function bearerToken(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

// grpc-js unary calls take a callback; this turns one into a promise.
function unary<T>(call: (callback: grpc.requestCallback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    call((err, response) => (err ? reject(err) : resolve(response as T))),
  );
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && "code" in err && "metadata" in err;
}

// The google.rpc details of a failed call: the gateway sends a google.rpc.Status
// in the `grpc-status-details-bin` trailer, whose `details` are Any messages.
interface ErrorDetails {
  info?: ErrorInfo__Output;
  reason?: ErrorReason__Output; // info.reason parsed; ERROR_REASON_UNSPECIFIED for one a newer gateway added
  retry?: RetryInfo__Output;
  badRequest?: BadRequest__Output;
}

function errorDetails(err: grpc.ServiceError): ErrorDetails {
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
function describe(err: unknown): string {
  if (!isServiceError(err)) return err instanceof Error ? err.message : String(err);
  const reason = errorDetails(err).info?.reason ?? "";
  return `code=${grpc.status[err.code]} reason=${reason} (${err.details})`;
}

// Stand-ins for the game client's WebRTC signalling.
function signalRequestFromClient(): string {
  return `client-offer-${randomUUID()}`;
}
function handToClient(_signalResponse: string): void {}

const MAX_START_ATTEMPTS = 5;

async function startSession(client: StreamSessionsClient): Promise<StreamSession__Output> {
  // The request, with its request_id, is made once, before the first attempt:
  // when an attempt fails UNAVAILABLE the session may have been started all the
  // same (the answer was lost on the way back), and a retry with the same
  // request_id returns that session instead of starting a second one.
  const request = {
    stream_group_identifier: STREAM_GROUP,
    application_identifier: APPLICATION,
    signal_request: signalRequestFromClient(),
    request_id: randomUUID(),
    // Answer once the session is ACTIVE and carries its signal response.
    wait_for_active: true,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await unary<StartStreamSessionResponse__Output>((done) =>
        client.startStreamSession(request, within(30), done),
      );
      const session = response.stream_session!;
      console.log(`started: ${session.arn} status=${session.status} attempts=${attempt}`);
      return session;
    } catch (err) {
      // UNAVAILABLE is always safe to retry, after the RetryInfo delay.
      if (!isServiceError(err) || err.code !== grpc.status.UNAVAILABLE || attempt === MAX_START_ATTEMPTS) {
        throw new Error(`start: ${describe(err)}`);
      }
      const { info, retry } = errorDetails(err);
      const delay = retry?.retry_delay;
      const delayMs = delay ? Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6) : 1000;
      console.log(`start: attempt ${attempt} failed: code=UNAVAILABLE reason=${info?.reason} retry_delay_ms=${delayMs}`);
      await sleep(delayMs);
    }
  }
}

interface Watched {
  resumeToken: string; // the last event's token, to resume from
  ended: boolean; // a TERMINATED or ERROR event was seen
}

// Follows one WatchStreamSession stream, printing its SNAPSHOT and CHANGE
// events, until the session ends (the stream then ends with OK) or the
// stream breaks (DEADLINE_EXCEEDED, UNAVAILABLE: resume from the last token).
async function watchOnce(client: StreamSessionsClient, arn: string, from: Watched, seconds: number): Promise<Watched> {
  const watched = { ...from };
  const request = {
    stream_group_identifier: STREAM_GROUP,
    stream_session_identifier: arn,
    resume_token: watched.resumeToken,
  };
  try {
    for await (const { event } of client.watchStreamSession(request, within(seconds))) {
      watched.resumeToken = event.resume_token;
      if (event.kind === "STREAM_SESSION_EVENT_KIND_HEARTBEAT") continue;
      const status = event.stream_session?.status;
      console.log(`watch: ${event.kind.replace("STREAM_SESSION_EVENT_KIND_", "")} ${status}`);
      if (status === "STREAM_SESSION_STATUS_TERMINATED" || status === "STREAM_SESSION_STATUS_ERROR") {
        watched.ended = true;
      }
    }
  } catch (err) {
    const breaks = [grpc.status.DEADLINE_EXCEEDED, grpc.status.UNAVAILABLE];
    if (!isServiceError(err) || !breaks.includes(err.code)) throw new Error(`watch: ${describe(err)}`);
    console.log(`watch: stream ended with ${grpc.status[err.code]}; resuming from the last token`);
  }
  return watched;
}

async function main(): Promise<void> {
  const client = new proto.gamelift.streams.v1.StreamSessions(ADDRESS, grpc.credentials.createInsecure(), {
    interceptors: TOKEN ? [bearerToken(TOKEN)] : [],
  });
  try {
    // 1. A call the gateway refuses: how a failed call is read.
    try {
      await unary((done) =>
        client.startStreamSession(
          { stream_group_identifier: "", application_identifier: APPLICATION, signal_request: "offer" },
          within(10),
          done,
        ),
      );
      throw new Error("a start without a stream group was accepted");
    } catch (err) {
      const details: ErrorDetails = isServiceError(err) ? errorDetails(err) : {};
      if (!isServiceError(err) || err.code !== grpc.status.INVALID_ARGUMENT || details.reason !== ErrorReason.INVALID_FIELD) {
        throw new Error(`start without a stream group: ${describe(err)}`);
      }
      const { info, badRequest } = details;
      const fields = (badRequest?.field_violations ?? []).map((v) => ` field=${v.field}`).join("");
      console.log(`rejected: code=${grpc.status[err.code]} reason=${info?.reason}${fields}`);
    }

    // 2. and 3. Start, retrying UNAVAILABLE with the same request_id.
    const session = await startSession(client);
    handToClient(session.signal_response);
    console.log(`signal response: ${Buffer.byteLength(session.signal_response)} bytes handed to the client`);

    // 4. The client reconnects with a new signal request.
    const connection = await unary<CreateStreamSessionConnectionResponse__Output>(
      (done) =>
        client.createStreamSessionConnection(
          {
            stream_group_identifier: STREAM_GROUP,
            stream_session_identifier: session.arn,
            signal_request: signalRequestFromClient(),
            request_id: randomUUID(),
            wait_for_active: true,
          },
          within(30),
          done,
        ),
    ).catch((err) => Promise.reject(new Error(`reconnect: ${describe(err)}`)));
    handToClient(connection.signal_response);
    console.log(
      `reconnected: status=${connection.stream_session?.status} signal response ${Buffer.byteLength(connection.signal_response)} bytes`,
    );

    // 5. Watch for 2 s: the stream breaks with DEADLINE_EXCEEDED, as any
    // stream may break; what matters is the last event's resume_token.
    let watched = await watchOnce(client, session.arn, { resumeToken: "", ended: false }, 2);

    // 6. Terminate (its own request_id: a retry of it answers alike).
    const terminated = await unary<TerminateStreamSessionResponse__Output>((done) =>
      client.terminateStreamSession(
        { stream_group_identifier: STREAM_GROUP, stream_session_identifier: session.arn, request_id: randomUUID() },
        within(10),
        done,
      ),
    ).catch((err) => Promise.reject(new Error(`terminate: ${describe(err)}`)));
    console.log(`terminated: status=${terminated.stream_session?.status}`);

    // 7. Resume the watch from the last token: no new SNAPSHOT, only what
    // changed since, until TERMINATED; resume again whenever a stream breaks.
    for (let streams = 1; !watched.ended; streams++) {
      if (streams > 10) throw new Error("watch: the session did not end");
      watched = await watchOnce(client, session.arn, watched, 10);
    }
    console.log("done");
  } finally {
    client.close();
  }
}

main().catch((err: unknown) => {
  console.log(`failed: ${describe(err)}`);
  process.exitCode = 1;
});
