// Copyright the gamelift-streams-gateway authors. Licensed under Apache-2.0.

package io.github.gameliftstreamsgateway.examples;

import io.github.gameliftstreamsgateway.examples.Example.ErrorDetails;
import io.github.gameliftstreamsgateway.examples.Example.Failure;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.CreateParticipantTokenRequest;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.CreateStageRequest;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.DeleteStageRequest;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.DisconnectParticipantRequest;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.ErrorReason;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.GetStageRequest;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.Participant;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.ParticipantEventName;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.ParticipantToken;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.ParticipantTokenCapability;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.ParticipantTokenConfiguration;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.StageParticipantEvent;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.StageParticipantEventKind;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.StagesGrpc.StagesBlockingStub;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.WatchStageParticipantsRequest;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.WatchStageParticipantsResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The stage part of the script (examples/README.md): an IVS Real-Time stage for a match, with a
 * token for a player and one for a spectator, watched while they join, publish and leave, through
 * the same sidecar (and channel) as the stream sessions.
 */
final class StagePart {
  private static final long CALL_SECONDS = 10;
  // The one watch stream of the stage part sees every join, publish and leave.
  private static final long STAGE_WATCH_SECONDS = 60;
  private static final int MAX_ATTEMPTS = 5;

  private final StagesBlockingStub stub;
  private final String emulatorUrl; // empty: no simulated clients (a real deployment)

  StagePart(StagesBlockingStub stub, String emulatorUrl) {
    this.stub = stub;
    this.emulatorUrl = emulatorUrl;
  }

  void run() throws Failure, InterruptedException {
    // 8. Create the stage. As for every mutating call, the request_id is made once and sent on
    // every retry. AWS cannot de-duplicate CreateStage, so after an answer lost on the way
    // back the gateway answers UNKNOWN (OUTCOME_UNKNOWN, not retried) and sends nothing more for
    // this request_id; the unique name finds the stage (docs/stages.md).
    CreateStageRequest create =
        CreateStageRequest.newBuilder()
            .setName("match-" + UUID.randomUUID())
            .setRequestId(UUID.randomUUID().toString())
            .build();
    String stageArn = withRetry("create stage", s -> s.createStage(create)).getStage().getArn();
    System.out.printf("stage: created %s%n", stageArn);

    // 9. One token per participant: a player sends and receives audio and video, a spectator
    // only receives. Each goes to its game client, which joins with an IVS broadcast SDK.
    ParticipantToken player =
        createToken(
            stageArn,
            "player",
            ParticipantTokenCapability.PARTICIPANT_TOKEN_CAPABILITY_PUBLISH,
            ParticipantTokenCapability.PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE);
    ParticipantToken spectator =
        createToken(
            stageArn, "spectator", ParticipantTokenCapability.PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE);

    // 10. Watch the stage's participants: a SNAPSHOT of each one on it, SYNCED, then a CHANGE per
    // event. The stream never ends by itself: it is made in a cancellable context, whose
    // cancellation closes it.
    Context.CancellableContext watching = Context.current().withCancellation();
    Context previous = watching.attach();
    try {
      StageWatch watch =
          new StageWatch(
              stub.withDeadlineAfter(STAGE_WATCH_SECONDS, TimeUnit.SECONDS)
                  .watchStageParticipants(
                      WatchStageParticipantsRequest.newBuilder().setStageArn(stageArn).build()));
      watch.until(StageParticipantEventKind.STAGE_PARTICIPANT_EVENT_KIND_SYNCED, null, null);

      // 11. Simulated game clients: only the emulator has them. Against a real deployment the
      // example goes on.
      if (emulatorUrl.isEmpty()) {
        System.out.println("stage: GLS_EMULATOR_URL unset; skipping the simulated clients");
      } else {
        playAndWatch(stageArn, new SimulatedClients(emulatorUrl), watch, player, spectator);
      }
    } finally {
      watching.detach(previous);
      watching.cancel(null);
    }

    // 12. Delete the stage (its own request_id): anyone still on it is disconnected.
    DeleteStageRequest delete =
        DeleteStageRequest.newBuilder()
            .setStageArn(stageArn)
            .setRequestId(UUID.randomUUID().toString())
            .build();
    withRetry("delete stage", s -> s.deleteStage(delete));
    System.out.println("stage: deleted");

    // 13. The stage is gone: GetStage answers NOT_FOUND, read like every error; the Stages
    // service's reasons are ivs.realtime.v1.ErrorReason's names.
    try {
      stub.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
          .getStage(GetStageRequest.newBuilder().setStageArn(stageArn).build());
      throw new Failure("get stage after delete: the stage is still there");
    } catch (StatusRuntimeException e) {
      ErrorDetails error = ErrorDetails.of(e);
      var reason = ErrorReason.getDescriptor().findValueByName(error.reasonName());
      if (error.code() != Status.Code.NOT_FOUND
          || reason == null
          || ErrorReason.valueOf(reason) != ErrorReason.NOT_FOUND) {
        throw Failure.of("get stage after delete", e);
      }
      System.out.println("stage: get after delete: " + error);
    }
  }

  /** Makes the token a client joins the stage with, and prints what it allows. */
  private ParticipantToken createToken(
      String stageArn, String userId, ParticipantTokenCapability... capabilities)
      throws Failure, InterruptedException {
    CreateParticipantTokenRequest request =
        CreateParticipantTokenRequest.newBuilder()
            .setStageArn(stageArn)
            .setConfiguration(
                ParticipantTokenConfiguration.newBuilder()
                    // The player's ID in the game: no personal data, it is not encrypted.
                    .setUserId(userId)
                    .addAllCapabilities(List.of(capabilities)))
            .setRequestId(UUID.randomUUID().toString())
            .build();
    ParticipantToken token =
        withRetry("create token", s -> s.createParticipantToken(request)).getParticipantToken();
    String names =
        token.getCapabilitiesList().stream()
            .map(c -> c.name().replaceFirst("^PARTICIPANT_TOKEN_CAPABILITY_", ""))
            .collect(Collectors.joining(","));
    System.out.printf("stage: token for %s capabilities=%s%n", token.getUserId(), names);
    return token;
  }

  /** One action of the script and the watch event that follows it. */
  private interface Action {
    void run() throws Failure, InterruptedException;
  }

  private record Step(Action action, ParticipantEventName event, String user) {}

  /**
   * The simulated clients join, publish and leave, and the backend disconnects the spectator,
   * each followed on the watch until its event comes.
   */
  private void playAndWatch(
      String stageArn,
      SimulatedClients clients,
      StageWatch watch,
      ParticipantToken player,
      ParticipantToken spectator)
      throws Failure, InterruptedException {
    List<Step> steps =
        List.of(
            new Step(
                () -> clients.join("player", player.getToken()),
                ParticipantEventName.PARTICIPANT_EVENT_NAME_JOINED,
                "player"),
            new Step(
                () -> clients.act("player", player.getParticipantId(), "publish"),
                ParticipantEventName.PARTICIPANT_EVENT_NAME_PUBLISH_STARTED,
                "player"),
            new Step(
                () -> clients.join("spectator", spectator.getToken()),
                ParticipantEventName.PARTICIPANT_EVENT_NAME_JOINED,
                "spectator"),
            new Step(
                () -> disconnect(stageArn, spectator),
                ParticipantEventName.PARTICIPANT_EVENT_NAME_LEFT,
                "spectator"),
            new Step(
                () -> clients.act("player", player.getParticipantId(), "leave"),
                ParticipantEventName.PARTICIPANT_EVENT_NAME_LEFT,
                "player"));
    for (Step step : steps) {
      step.action().run();
      watch.until(StageParticipantEventKind.STAGE_PARTICIPANT_EVENT_KIND_CHANGE, step.event(), step.user());
    }
  }

  /**
   * Removes a participant from the stage and revokes its token (the backend's call: a spectator
   * whose match ended, a player kicked).
   */
  private void disconnect(String stageArn, ParticipantToken token)
      throws Failure, InterruptedException {
    DisconnectParticipantRequest request =
        DisconnectParticipantRequest.newBuilder()
            .setStageArn(stageArn)
            .setParticipantId(token.getParticipantId())
            .setReason("spectating ended")
            .setRequestId(UUID.randomUUID().toString())
            .build();
    withRetry("disconnect", s -> s.disconnectParticipant(request));
    System.out.printf("stage: disconnected %s%n", token.getUserId());
  }

  /** Reads one WatchStageParticipants stream, event by event. */
  private record StageWatch(Iterator<WatchStageParticipantsResponse> events) {
    /**
     * Prints the stream's events (heartbeats only prove it alive) until one of {@code kind}
     * comes (for a CHANGE: event {@code name} of user {@code user}).
     */
    void until(StageParticipantEventKind kind, ParticipantEventName name, String user)
        throws Failure {
      while (true) {
        StageParticipantEvent event;
        try {
          if (!events.hasNext()) {
            throw new Failure("stage watch: the stream ended");
          }
          event = events.next().getEvent();
        } catch (StatusRuntimeException e) {
          throw Failure.of("stage watch", e);
        }
        Participant participant = event.getParticipant();
        String label = event.getKind().name().replaceFirst("^STAGE_PARTICIPANT_EVENT_KIND_", "");
        switch (event.getKind()) {
          case STAGE_PARTICIPANT_EVENT_KIND_HEARTBEAT:
            continue;
          case STAGE_PARTICIPANT_EVENT_KIND_SNAPSHOT:
            System.out.printf(
                "stage watch: %s %s %s%n",
                label, participant.getUserId(), participant.getState().name());
            break;
          case STAGE_PARTICIPANT_EVENT_KIND_SYNCED:
            System.out.printf("stage watch: %s%n", label);
            break;
          case STAGE_PARTICIPANT_EVENT_KIND_CHANGE:
            System.out.printf(
                "stage watch: %s %s %s%n",
                label, event.getParticipantEvent().getName().name(), participant.getUserId());
            break;
          default:
            break;
        }
        if (event.getKind() == kind
            && (kind != StageParticipantEventKind.STAGE_PARTICIPANT_EVENT_KIND_CHANGE
                || (event.getParticipantEvent().getName() == name
                    && participant.getUserId().equals(user)))) {
          return;
        }
      }
    }
  }

  /**
   * Makes a call, with a fresh deadline per attempt, and repeats it while it fails UNAVAILABLE,
   * after the delay google.rpc.RetryInfo asks for, with the same request (so the same
   * request_id).
   */
  private <T> T withRetry(String what, Function<StagesBlockingStub, T> call)
      throws Failure, InterruptedException {
    for (int attempt = 1; ; attempt++) {
      try {
        return call.apply(stub.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS));
      } catch (StatusRuntimeException e) {
        ErrorDetails error = ErrorDetails.of(e);
        if (error.code() != Status.Code.UNAVAILABLE || attempt == MAX_ATTEMPTS) {
          throw Failure.of(what, e);
        }
        System.out.printf(
            "%s: attempt %d failed: %s retry_delay_ms=%d%n",
            what, attempt, error, error.retryDelayMillis());
        Thread.sleep(error.retryDelayMillis());
      }
    }
  }

  /**
   * Stand-ins for the game clients of a stage. A real client joins with the IVS broadcast SDK and
   * the token the backend handed it; here the emulator's admin API (docs/emulator.md, "Admin API
   * for simulated participants") plays them. A backend has nothing like this: leave it out when
   * you copy.
   */
  private record SimulatedClients(String emulatorUrl) {
    private static final HttpClient HTTP =
        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(CALL_SECONDS)).build();

    void join(String user, String token) throws Failure, InterruptedException {
      System.out.printf("stage client: %s joins%n", user);
      // A participant token is a JWT: no character in it needs escaping in JSON.
      post("/_emulator/ivs/participants", "{\"token\":\"" + token + "\"}");
    }

    void act(String user, String participantId, String action)
        throws Failure, InterruptedException {
      String verb =
          switch (action) {
            case "publish" -> "publishes";
            case "unpublish" -> "unpublishes";
            case "leave" -> "leaves";
            default -> action;
          };
      System.out.printf("stage client: %s %s%n", user, verb);
      post(
          "/_emulator/ivs/participants/"
              + URLEncoder.encode(participantId, StandardCharsets.UTF_8)
              + "/"
              + action,
          "{}");
    }

    private void post(String path, String json) throws Failure, InterruptedException {
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(emulatorUrl + path))
              .timeout(Duration.ofSeconds(CALL_SECONDS))
              .header("content-type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(json))
              .build();
      try {
        HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
          throw new Failure(
              "simulated client: POST " + path + ": " + response.statusCode() + " " + response.body());
        }
      } catch (IOException e) {
        throw new Failure("simulated client: POST " + path + ": " + e);
      }
    }
  }
}
