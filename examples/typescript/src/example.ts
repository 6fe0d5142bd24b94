// A backend's life with a stream session, through the gamelift-streams-gateway
// sidecar: start (retrying safely), hand the signal response to the client,
// reconnect, watch (and resume), terminate; then an IVS Real-Time stage beside
// it (stage.ts). examples/README.md is the script. rpc.ts holds what every
// call shares (address, token, deadlines, reading errors).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import * as grpc from "@grpc/grpc-js";

import { ErrorReason } from "./generated/gamelift/streams/v1/ErrorReason";
import type { CreateStreamSessionConnectionResponse__Output } from "./generated/gamelift/streams/v1/CreateStreamSessionConnectionResponse";
import type { StartStreamSessionResponse__Output } from "./generated/gamelift/streams/v1/StartStreamSessionResponse";
import type { StreamSession__Output } from "./generated/gamelift/streams/v1/StreamSession";
import type { StreamSessionsClient } from "./generated/gamelift/streams/v1/StreamSessions";
import type { TerminateStreamSessionResponse__Output } from "./generated/gamelift/streams/v1/TerminateStreamSessionResponse";
import {
  ADDRESS,
  TOKEN,
  bearerToken,
  describe,
  errorDetails,
  isServiceError,
  proto,
  unary,
  within,
  type ErrorDetails,
} from "./rpc";
import { runStage } from "./stage";

const STREAM_GROUP = process.env.GLS_STREAM_GROUP || "sg-000000001";
const APPLICATION = process.env.GLS_APPLICATION || "a-000000001";

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
  const options: grpc.ClientOptions = { interceptors: TOKEN ? [bearerToken(TOKEN)] : [] };
  const client = new proto.gamelift.streams.v1.StreamSessions(ADDRESS, grpc.credentials.createInsecure(), options);
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

    // 8. to 13. A stage for the match's cameras and voice, on the same
    // channel: one sidecar, one port, two services.
    await runStage({ ...options, channelOverride: client.getChannel() });
    console.log("done");
  } finally {
    client.close();
  }
}

main().catch((err: unknown) => {
  console.log(`failed: ${describe(err)}`);
  process.exitCode = 1;
});
