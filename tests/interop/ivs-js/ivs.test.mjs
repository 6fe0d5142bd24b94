// The emulator's IVS Real-Time part driven by @aws-sdk/client-ivs-realtime:
// every one of the 16 implemented operations, ISO 8601 times parsed into Dates,
// typed errors as the SDK's exception classes (instanceof), and a throttle the
// SDK names ThrottlingException and retries. EMULATOR_URL is a fresh emulator
// whose clock stands still; state changes come from its admin API.
// Prints "ok <test>" per test; exits non-zero on the first failure.

import assert from "node:assert/strict";
import {
  AccessDeniedException,
  ConflictException,
  CreateParticipantTokenCommand,
  CreateStageCommand,
  DeleteStageCommand,
  DisconnectParticipantCommand,
  GetCompositionCommand,
  GetParticipantCommand,
  GetStageCommand,
  GetStageSessionCommand,
  IVSRealTimeClient,
  ListCompositionsCommand,
  ListParticipantEventsCommand,
  ListParticipantsCommand,
  ListStageSessionsCommand,
  ListStagesCommand,
  ResourceNotFoundException,
  StartCompositionCommand,
  StopCompositionCommand,
  UpdateStageCommand,
  ValidationException,
} from "@aws-sdk/client-ivs-realtime";

const URL = process.env.EMULATOR_URL;
const REGION = "us-west-2";
const CHANNEL = "arn:aws:ivs:us-west-2:111122223333:channel/abcdEFGH1234";

function client(maxAttempts = 1) {
  return new IVSRealTimeClient({
    endpoint: URL,
    region: REGION,
    credentials: { accessKeyId: "AKIDEMULATOR", secretAccessKey: "emulator-secret" },
    maxAttempts,
  });
}

async function admin(method, path, body) {
  const resp = await fetch(`${URL}/_emulator/${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: resp.status, body: await resp.json() };
}

async function participant(id, action, body = {}) {
  const r = await admin("POST", `ivs/participants/${encodeURIComponent(id)}/${action}`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function join(token) {
  const r = await admin("POST", "ivs/participants", { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function advance(seconds) {
  assert.equal((await admin("POST", "clock/advance", { seconds })).status, 200);
}

async function calls(op) {
  return (await admin("GET", "calls")).body[op] ?? {};
}

function isTime(value) {
  assert.ok(value instanceof Date && !Number.isNaN(value.getTime()), `a Date: ${value}`);
  assert.ok(Math.abs(value.getTime() - Date.now()) < 86_400_000, `within a day of now: ${value.toISOString()}`);
  return true;
}

async function rejects(promise, check) {
  try {
    await promise;
  } catch (err) {
    check(err);
    return err;
  }
  assert.fail("expected an error");
}

async function everyOperation() {
  const rt = client();
  const created = await rt.send(new CreateStageCommand({ name: "lobby", participantTokenConfigurations: [{ userId: "host" }] }));
  const stage = created.stage.arn;
  assert.match(stage, /^arn:aws:ivs:us-west-2:111122223333:stage\/[A-Za-z0-9]{12}$/);
  const host = created.participantTokens[0];
  assert.deepEqual(host.capabilities, ["PUBLISH", "SUBSCRIBE"]);
  isTime(host.expirationTime);
  const guest = (await rt.send(new CreateParticipantTokenCommand({ stageArn: stage, userId: "guest", capabilities: ["SUBSCRIBE"] }))).participantToken;
  assert.equal((await rt.send(new GetStageCommand({ arn: stage }))).stage.name, "lobby");
  assert.equal((await rt.send(new UpdateStageCommand({ arn: stage, name: "hall" }))).stage.name, "hall");
  assert.deepEqual((await rt.send(new ListStagesCommand({}))).stages.map((s) => s.arn), [stage]);

  const session = (await join(host.token)).sessionId;
  await join(guest.token);
  assert.equal((await participant(host.participantId, "publish")).published, true);
  assert.equal((await participant(guest.participantId, "publish")).published, false);
  await participant(guest.participantId, "subscribe", { remoteParticipantId: host.participantId });

  const got = (await rt.send(new GetStageSessionCommand({ stageArn: stage, sessionId: session }))).stageSession;
  assert.equal(got.sessionId, session);
  isTime(got.startTime);
  assert.equal(got.endTime, undefined);
  const sessions = (await rt.send(new ListStageSessionsCommand({ stageArn: stage }))).stageSessions;
  assert.deepEqual(sessions.map((s) => s.sessionId), [session]);
  const p = (await rt.send(new GetParticipantCommand({ stageArn: stage, sessionId: session, participantId: host.participantId }))).participant;
  assert.equal(p.userId, "host");
  assert.equal(p.state, "CONNECTED");
  isTime(p.firstJoinTime);
  const connected = (await rt.send(new ListParticipantsCommand({ stageArn: stage, sessionId: session, filterByState: "CONNECTED" }))).participants;
  assert.equal(connected.length, 2);
  const events = (await rt.send(new ListParticipantEventsCommand({ stageArn: stage, sessionId: session, participantId: guest.participantId }))).events;
  assert.deepEqual(events.map((e) => [e.name, e.errorCode ?? null]), [
    ["JOINED", null],
    ["PUBLISH_ERROR", "INSUFFICIENT_CAPABILITIES"],
    ["SUBSCRIBE_STARTED", null],
  ]);
  events.forEach((e) => isTime(e.eventTime));

  const started = (await rt.send(new StartCompositionCommand({ stageArn: stage, destinations: [{ channel: { channelArn: CHANNEL } }] }))).composition;
  assert.equal(started.state, "STARTING");
  await advance(5);
  const active = (await rt.send(new GetCompositionCommand({ arn: started.arn }))).composition;
  assert.equal(active.state, "ACTIVE");
  isTime(active.destinations[0].startTime);
  assert.deepEqual((await rt.send(new ListCompositionsCommand({ filterByStageArn: stage }))).compositions.map((c) => c.arn), [started.arn]);
  await rt.send(new StopCompositionCommand({ arn: started.arn }));
  await advance(2);
  const stopped = (await rt.send(new GetCompositionCommand({ arn: started.arn }))).composition;
  assert.equal(stopped.state, "STOPPED");
  isTime(stopped.endTime);

  await rt.send(new DisconnectParticipantCommand({ stageArn: stage, participantId: host.participantId }));
  await participant(guest.participantId, "leave");
  isTime((await rt.send(new GetStageSessionCommand({ stageArn: stage, sessionId: session }))).stageSession.endTime);
  await rt.send(new DeleteStageCommand({ arn: stage }));
  assert.deepEqual((await rt.send(new ListStagesCommand({}))).stages, []);
}

async function resetCalls() {
  assert.equal((await admin("DELETE", "calls")).status, 200);
}

async function typedErrors() {
  await resetCalls();
  const rt = client();
  const missing = "arn:aws:ivs:us-west-2:111122223333:stage/abcdefabcdef";
  const notFound = await rejects(rt.send(new GetStageCommand({ arn: missing })), (err) => {
    assert.ok(err instanceof ResourceNotFoundException, `${err.name}: ${err}`);
  });
  assert.equal(notFound.$metadata.httpStatusCode, 404);
  assert.match(notFound.exceptionMessage, /Stage not found/);
  await rejects(rt.send(new CreateStageCommand({ name: "not valid!" })), (err) => {
    assert.ok(err instanceof ValidationException, `${err.name}: ${err}`);
    assert.match(err.exceptionMessage, /at 'name' failed to satisfy constraint/);
  });
  const stage = (await rt.send(new CreateStageCommand({}))).stage.arn;
  const destinations = [{ channel: { channelArn: CHANNEL } }];
  const first = await rt.send(new StartCompositionCommand({ stageArn: stage, idempotencyToken: "js-token", destinations }));
  const again = await rt.send(new StartCompositionCommand({ stageArn: stage, idempotencyToken: "js-token", destinations }));
  assert.equal(again.composition.arn, first.composition.arn);
  await rejects(rt.send(new StartCompositionCommand({ stageArn: stage, idempotencyToken: "js-token", destinations, tags: { k: "v" } })), (err) => {
    assert.ok(err instanceof ConflictException, `${err.name}: ${err}`);
  });
  await rejects(rt.send(new DisconnectParticipantCommand({ stageArn: stage, participantId: "nobody" })), (err) => {
    assert.ok(err instanceof ResourceNotFoundException, `${err.name}: ${err}`);
  });
  await rejects(rt.send(new GetStageSessionCommand({ stageArn: stage, sessionId: "st-abcdefghijklm" })), (err) => {
    assert.ok(err instanceof ResourceNotFoundException, `${err.name}: ${err}`);
  });
  const { ListPublicKeysCommand } = await import("@aws-sdk/client-ivs-realtime");
  await rejects(rt.send(new ListPublicKeysCommand({})), (err) => {
    assert.ok(err instanceof AccessDeniedException, `${err.name}: ${err}`);
  });
  assert.deepEqual(await calls("StartComposition"), { ConflictException: 1, Success: 2 });
}

async function throttled() {
  await resetCalls();
  assert.equal((await admin("PUT", "rate-limits", { CreateStage: 0.01 })).status, 200);
  const rt = client();
  await rt.send(new CreateStageCommand({}));
  const err = await rejects(rt.send(new CreateStageCommand({})), (e) => assert.equal(e.name, "ThrottlingException"));
  assert.equal(err.$metadata.httpStatusCode, 429);
  assert.equal(err.$metadata.attempts, 1);
  assert.deepEqual(await calls("CreateStage"), { Success: 1, ThrottlingException: 1 });
  const retried = await rejects(client(2).send(new CreateStageCommand({})), (e) => assert.equal(e.name, "ThrottlingException"));
  assert.equal(retried.$metadata.attempts, 2, "the SDK retried the throttle");
  assert.deepEqual(await calls("CreateStage"), { Success: 1, ThrottlingException: 3 });
}

assert.ok(URL, "EMULATOR_URL is set");
for (const [name, test] of [["every_operation", everyOperation], ["typed_errors", typedErrors], ["throttled", throttled]]) {
  await test();
  console.log(`ok ${name}`);
}
