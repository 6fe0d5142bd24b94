// The stage part of the script (examples/README.md): an IVS Real-Time stage
// for a match, with a token for a player and one for a spectator, watched
// while they join, publish and leave, through the same sidecar (and channel)
// as the stream sessions.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import * as grpc from "@grpc/grpc-js";

import type { CreateParticipantTokenResponse__Output } from "./generated/ivs/realtime/v1/CreateParticipantTokenResponse";
import type { CreateStageResponse__Output } from "./generated/ivs/realtime/v1/CreateStageResponse";
import { ErrorReason } from "./generated/ivs/realtime/v1/ErrorReason";
import type { ParticipantEventName__Output } from "./generated/ivs/realtime/v1/ParticipantEventName";
import type { ParticipantToken__Output } from "./generated/ivs/realtime/v1/ParticipantToken";
import type { ParticipantTokenCapability } from "./generated/ivs/realtime/v1/ParticipantTokenCapability";
import type { StageParticipantEventKind__Output } from "./generated/ivs/realtime/v1/StageParticipantEventKind";
import type { StagesClient } from "./generated/ivs/realtime/v1/Stages";
import type { WatchStageParticipantsResponse__Output } from "./generated/ivs/realtime/v1/WatchStageParticipantsResponse";
import { ADDRESS, describe, errorDetails, isServiceError, proto, unary, within } from "./rpc";
import { SimulatedClients } from "./simulated-clients";

const MAX_ATTEMPTS = 5;

// Calls `call` until it succeeds, retrying UNAVAILABLE (always safe with the
// same request_id, which the caller made once) after the RetryInfo delay.
async function withRetries<T>(name: string, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isServiceError(err) || err.code !== grpc.status.UNAVAILABLE || attempt === MAX_ATTEMPTS) {
        throw new Error(`${name}: ${describe(err)}`);
      }
      const { info, retry } = errorDetails(err);
      const delay = retry?.retry_delay;
      const delayMs = delay ? Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6) : 1000;
      console.log(`${name}: attempt ${attempt} failed: code=UNAVAILABLE reason=${info?.reason} retry_delay_ms=${delayMs}`);
      await sleep(delayMs);
    }
  }
}

// One token per participant: a player sends and receives audio and video, a
// spectator only receives. The token goes to the game client, which joins
// the stage with an IVS broadcast SDK.
async function createToken(
  stages: StagesClient,
  stageArn: string,
  userId: string,
  capabilities: ParticipantTokenCapability[],
): Promise<ParticipantToken__Output> {
  // user_id is the player's ID in the game: no personal data, it is not encrypted.
  const request = { stage_arn: stageArn, configuration: { user_id: userId, capabilities }, request_id: randomUUID() };
  const response = await withRetries("create token", () =>
    unary<CreateParticipantTokenResponse__Output>((done) => stages.createParticipantToken(request, within(10), done)),
  );
  const token = response.participant_token!;
  const names = token.capabilities.map((c) => c.replace("PARTICIPANT_TOKEN_CAPABILITY_", ""));
  console.log(`stage: token for ${token.user_id} capabilities=${names.join(",")}`);
  return token;
}

// Reads one WatchStageParticipants stream, event by event.
class StageWatch {
  private readonly events: AsyncIterator<WatchStageParticipantsResponse__Output>;

  constructor(private readonly call: grpc.ClientReadableStream<WatchStageParticipantsResponse__Output>) {
    this.events = call[Symbol.asyncIterator]();
  }

  // Prints the stream's events (heartbeats only prove it alive) until one of
  // `kind` comes (for a CHANGE: event `name` of user `user`).
  async until(kind: StageParticipantEventKind__Output, name?: ParticipantEventName__Output, user?: string): Promise<void> {
    for (;;) {
      let next: IteratorResult<WatchStageParticipantsResponse__Output>;
      try {
        next = await this.events.next();
      } catch (err) {
        throw new Error(`stage watch: ${describe(err)}`);
      }
      if (next.done) throw new Error("stage watch: the stream ended");
      const event = next.value.event!;
      const label = event.kind.replace("STAGE_PARTICIPANT_EVENT_KIND_", "");
      const participant = event.participant;
      switch (event.kind) {
        case "STAGE_PARTICIPANT_EVENT_KIND_HEARTBEAT":
          continue;
        case "STAGE_PARTICIPANT_EVENT_KIND_SNAPSHOT":
          console.log(`stage watch: ${label} ${participant?.user_id} ${participant?.state}`);
          break;
        case "STAGE_PARTICIPANT_EVENT_KIND_SYNCED":
          console.log(`stage watch: ${label}`);
          break;
        case "STAGE_PARTICIPANT_EVENT_KIND_CHANGE":
          console.log(`stage watch: ${label} ${event.participant_event?.name} ${participant?.user_id}`);
          break;
      }
      if (
        event.kind === kind &&
        (kind !== "STAGE_PARTICIPANT_EVENT_KIND_CHANGE" ||
          (event.participant_event?.name === name && participant?.user_id === user))
      ) {
        return;
      }
    }
  }

  // Closes the stream (it never ends by itself).
  close(): void {
    this.call.cancel();
    void this.events.return?.().catch(() => {});
  }
}

// Removes a participant from the stage and revokes its token (the backend's
// call: a spectator whose match ended, a player kicked).
async function disconnect(stages: StagesClient, stageArn: string, token: ParticipantToken__Output): Promise<void> {
  const request = {
    stage_arn: stageArn,
    participant_id: token.participant_id,
    reason: "spectating ended",
    request_id: randomUUID(),
  };
  await withRetries("disconnect", () => unary((done) => stages.disconnectParticipant(request, within(10), done)));
  console.log(`stage: disconnected ${token.user_id}`);
}

// The simulated clients join, publish and leave, and the backend disconnects
// the spectator, each followed on the watch until its event comes.
async function playAndWatch(
  stages: StagesClient,
  stageArn: string,
  clients: SimulatedClients,
  watch: StageWatch,
  player: ParticipantToken__Output,
  spectator: ParticipantToken__Output,
): Promise<void> {
  const steps: [() => Promise<void>, ParticipantEventName__Output, string][] = [
    [() => clients.join("player", player.token), "PARTICIPANT_EVENT_NAME_JOINED", "player"],
    [() => clients.act("player", player.participant_id, "publish"), "PARTICIPANT_EVENT_NAME_PUBLISH_STARTED", "player"],
    [() => clients.join("spectator", spectator.token), "PARTICIPANT_EVENT_NAME_JOINED", "spectator"],
    [() => disconnect(stages, stageArn, spectator), "PARTICIPANT_EVENT_NAME_LEFT", "spectator"],
    [() => clients.act("player", player.participant_id, "leave"), "PARTICIPANT_EVENT_NAME_LEFT", "player"],
  ];
  for (const [act, name, user] of steps) {
    await act();
    await watch.until("STAGE_PARTICIPANT_EVENT_KIND_CHANGE", name, user);
  }
}

// Steps 8 to 13 of the script, with a Stages client made from `options`
// (the stream sessions' channel and token).
export async function runStage(options: grpc.ClientOptions): Promise<void> {
  const stages = new proto.ivs.realtime.v1.Stages(ADDRESS, grpc.credentials.createInsecure(), options);

  // 8. Create the stage. As for every mutating call, the request_id is made
  // once and sent on every retry. AWS cannot de-duplicate CreateStage, so
  // after an answer lost on the way back the gateway answers UNKNOWN
  // (OUTCOME_UNKNOWN, not retried) and sends nothing more for this
  // request_id; the unique name finds the stage (docs/stages.md, Idempotency).
  const create = { name: `match-${randomUUID()}`, request_id: randomUUID() };
  const created = await withRetries("create stage", () =>
    unary<CreateStageResponse__Output>((done) => stages.createStage(create, within(10), done)),
  );
  const stageArn = created.stage!.arn;
  console.log(`stage: created ${stageArn}`);

  // 9. A player's token and a spectator's.
  const player = await createToken(stages, stageArn, "player", [
    "PARTICIPANT_TOKEN_CAPABILITY_PUBLISH",
    "PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE",
  ]);
  const spectator = await createToken(stages, stageArn, "spectator", ["PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE"]);

  // 10. Watch the stage's participants: a SNAPSHOT of each one on it, SYNCED,
  // then a CHANGE per event.
  const watch = new StageWatch(stages.watchStageParticipants({ stage_arn: stageArn }, within(60)));
  try {
    await watch.until("STAGE_PARTICIPANT_EVENT_KIND_SYNCED");

    // 11. Simulated game clients: only the emulator has them. Against a real
    // deployment the example goes on.
    const emulatorUrl = process.env.GLS_EMULATOR_URL;
    if (!emulatorUrl) {
      console.log("stage: GLS_EMULATOR_URL unset; skipping the simulated clients");
    } else {
      await playAndWatch(stages, stageArn, new SimulatedClients(emulatorUrl), watch, player, spectator);
    }
  } finally {
    watch.close();
  }

  // 12. Delete the stage (its own request_id): anyone still on it is disconnected.
  const remove = { stage_arn: stageArn, request_id: randomUUID() };
  await withRetries("delete stage", () => unary((done) => stages.deleteStage(remove, within(10), done)));
  console.log("stage: deleted");

  // 13. The stage is gone: GetStage answers NOT_FOUND, read like every error;
  // the Stages service's reasons are ivs.realtime.v1.ErrorReason's names.
  try {
    await unary((done) => stages.getStage({ stage_arn: stageArn }, within(10), done));
    throw new Error("get stage after delete: the stage is still there");
  } catch (err) {
    const reason = isServiceError(err) ? errorDetails(err).info?.reason : undefined;
    if (!isServiceError(err) || err.code !== grpc.status.NOT_FOUND || reason !== ErrorReason.NOT_FOUND) {
      throw new Error(`get stage after delete: ${describe(err)}`);
    }
    console.log(`stage: get after delete: code=${grpc.status[err.code]} reason=${reason}`);
  }
}
