// Copyright the gamelift-streams-gateway authors. Licensed under Apache-2.0.

package io.github.gameliftstreamsgateway.examples;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Duration;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.github.gameliftstreamsgateway.ivs.realtime.v1.StagesGrpc;
import io.github.gameliftstreamsgateway.streams.v1.CreateStreamSessionConnectionRequest;
import io.github.gameliftstreamsgateway.streams.v1.CreateStreamSessionConnectionResponse;
import io.github.gameliftstreamsgateway.streams.v1.ErrorReason;
import io.github.gameliftstreamsgateway.streams.v1.StartStreamSessionRequest;
import io.github.gameliftstreamsgateway.streams.v1.StreamSession;
import io.github.gameliftstreamsgateway.streams.v1.StreamSessionEvent;
import io.github.gameliftstreamsgateway.streams.v1.StreamSessionEventKind;
import io.github.gameliftstreamsgateway.streams.v1.StreamSessionStatus;
import io.github.gameliftstreamsgateway.streams.v1.StreamSessionsGrpc;
import io.github.gameliftstreamsgateway.streams.v1.StreamSessionsGrpc.StreamSessionsBlockingStub;
import io.github.gameliftstreamsgateway.streams.v1.TerminateStreamSessionRequest;
import io.github.gameliftstreamsgateway.streams.v1.WatchStreamSessionRequest;
import io.github.gameliftstreamsgateway.streams.v1.WatchStreamSessionResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * One backend's life with a stream session, through the gamelift-streams-gateway sidecar: start
 * it, hand its signal response to the client, let the client reconnect, watch it, end it; then an
 * IVS Real-Time stage beside it ({@link StagePart}). The script and the lines it prints are those
 * of examples/README.md.
 */
public final class Example {
  // Every call has a deadline: without one, a call to a gateway that hangs hangs with it.
  private static final long CALL_SECONDS = 10;
  // wait_for_active holds the call until the session is ACTIVE: give it longer.
  private static final long WAIT_FOR_ACTIVE_SECONDS = 30;
  // A short deadline on the first watch, to show what a broken stream looks like.
  private static final long FIRST_WATCH_SECONDS = 2;
  private static final int MAX_ATTEMPTS = 5;
  private static final int MAX_WATCH_STREAMS = 30;

  private final StreamSessionsBlockingStub stub;
  private final String group;
  private final String application;

  // What the watch has seen: the resume_token of the last event and the session's last status.
  private String resumeToken = "";
  private StreamSessionStatus lastStatus = StreamSessionStatus.STREAM_SESSION_STATUS_UNSPECIFIED;

  private Example(StreamSessionsBlockingStub stub, String group, String application) {
    this.stub = stub;
    this.group = group;
    this.application = application;
  }

  public static void main(String[] args) {
    String address = env("GLS_GATEWAY_ADDRESS", "127.0.0.1:50051");
    String token = env("GLS_GATEWAY_TOKEN", "");

    // The sidecar listens in the same pod: plaintext. The token goes as call metadata on every
    // call of the channel, "authorization: Bearer TOKEN".
    ManagedChannelBuilder<?> builder =
        Grpc.newChannelBuilder(address, InsecureChannelCredentials.create());
    if (!token.isEmpty()) {
      Metadata headers = new Metadata();
      headers.put(
          Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    ManagedChannel channel = builder.build();

    int exitStatus = 0;
    try {
      new Example(
              StreamSessionsGrpc.newBlockingStub(channel),
              env("GLS_STREAM_GROUP", "sg-000000001"),
              env("GLS_APPLICATION", "a-000000001"))
          .run();
      // 8. to 13. A stage for the match's cameras and voice, on the same channel: one sidecar,
      // one port, two services.
      new StagePart(StagesGrpc.newBlockingStub(channel), env("GLS_EMULATOR_URL", "")).run();
      System.out.println("done");
    } catch (Failure | InterruptedException e) {
      System.out.println("failed: " + e.getMessage());
      exitStatus = 1;
    } finally {
      channel.shutdownNow();
    }
    System.exit(exitStatus);
  }

  private void run() throws Failure, InterruptedException {
    // 1. A failed call, read: its code, ErrorInfo's reason, BadRequest's fields. The gateway
    // checks the fields before any AWS call.
    try {
      stub.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
          .startStreamSession(
              StartStreamSessionRequest.newBuilder()
                  .setApplicationIdentifier(application)
                  .setSignalRequest(clientSignalRequest())
                  .setRequestId(UUID.randomUUID().toString())
                  .build());
      throw new Failure("a start without stream_group_identifier was accepted");
    } catch (StatusRuntimeException e) {
      ErrorDetails error = ErrorDetails.of(e);
      if (error.code() != Status.Code.INVALID_ARGUMENT
          || error.reason() != ErrorReason.INVALID_FIELD) {
        throw Failure.of("start without a stream group", e);
      }
      StringBuilder line = new StringBuilder("rejected: " + error);
      for (String field : error.fields()) {
        line.append(" field=").append(field);
      }
      System.out.println(line);
    }

    // 2. Start, waiting until the session is ACTIVE. The request_id is made once, before the
    // first attempt: a retry sends the same one, so if the first attempt did start a session
    // (and only its answer was lost) the retry returns that session instead of a second one.
    StartStreamSessionRequest start =
        StartStreamSessionRequest.newBuilder()
            .setStreamGroupIdentifier(group)
            .setApplicationIdentifier(application)
            .setSignalRequest(clientSignalRequest())
            .setRequestId(UUID.randomUUID().toString())
            .setWaitForActive(true)
            .build();
    Attempted<StreamSession> started =
        withRetry(
            "start",
            WAIT_FOR_ACTIVE_SECONDS,
            s -> s.startStreamSession(start).getStreamSession());
    StreamSession session = started.response();
    System.out.printf(
        "started: %s status=%s attempts=%d%n",
        session.getArn(), session.getStatus().name(), started.attempts());

    // 3. The signal response is what the client needs to connect.
    System.out.printf(
        "signal response: %d bytes handed to the client%n",
        session.getSignalResponseBytes().size());

    // 4. The client reconnects with a new signal request.
    CreateStreamSessionConnectionRequest reconnect =
        CreateStreamSessionConnectionRequest.newBuilder()
            .setStreamGroupIdentifier(group)
            .setStreamSessionIdentifier(session.getArn())
            .setSignalRequest(clientSignalRequest())
            .setRequestId(UUID.randomUUID().toString())
            .setWaitForActive(true)
            .build();
    CreateStreamSessionConnectionResponse reconnected =
        withRetry(
                "reconnect",
                WAIT_FOR_ACTIVE_SECONDS,
                s -> s.createStreamSessionConnection(reconnect))
            .response();
    System.out.printf(
        "reconnected: status=%s signal response %d bytes%n",
        reconnected.getStreamSession().getStatus().name(),
        reconnected.getSignalResponseBytes().size());

    // 5. Watch the session. This stream breaks at its deadline, as any stream may break (a
    // restarted sidecar, a network hiccup): what matters is the last resume_token.
    try {
      watch(session.getArn(), FIRST_WATCH_SECONDS);
      throw new Failure("watch: the stream ended before its deadline");
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.DEADLINE_EXCEEDED) {
        throw Failure.of("watch", e);
      }
      printBreak(e);
    }

    // 6. End the session, with its own request_id (made once, as for the start).
    TerminateStreamSessionRequest terminate =
        TerminateStreamSessionRequest.newBuilder()
            .setStreamGroupIdentifier(group)
            .setStreamSessionIdentifier(session.getArn())
            .setRequestId(UUID.randomUUID().toString())
            .build();
    StreamSession ending =
        withRetry("terminate", CALL_SECONDS, s -> s.terminateStreamSession(terminate))
            .response()
            .getStreamSession();
    System.out.printf("terminated: status=%s%n", ending.getStatus().name());

    // 7. Watch again from the last resume_token: no new SNAPSHOT, only what changed since,
    // until a terminal event. A stream that breaks is resumed the same way.
    for (int stream = 1; !isTerminal(lastStatus); stream++) {
      if (stream > MAX_WATCH_STREAMS) {
        throw new Failure("watch: no terminal event after " + MAX_WATCH_STREAMS + " streams");
      }
      try {
        watch(session.getArn(), CALL_SECONDS);
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code != Status.Code.DEADLINE_EXCEEDED && code != Status.Code.UNAVAILABLE) {
          throw Failure.of("watch", e);
        }
        printBreak(e);
      }
    }
  }

  /**
   * Reads one WatchStreamSession stream, resumed from the last resume_token, until the gateway
   * ends it (after a terminal event). A stream that breaks throws StatusRuntimeException.
   */
  private void watch(String sessionArn, long deadlineSeconds) {
    Iterator<WatchStreamSessionResponse> events =
        stub.withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS)
            .watchStreamSession(
                WatchStreamSessionRequest.newBuilder()
                    .setStreamGroupIdentifier(group)
                    .setStreamSessionIdentifier(sessionArn)
                    .setResumeToken(resumeToken)
                    .build());
    while (events.hasNext()) {
      StreamSessionEvent event = events.next().getEvent();
      if (!event.getResumeToken().isEmpty()) {
        resumeToken = event.getResumeToken();
      }
      lastStatus = event.getStreamSession().getStatus();
      if (event.getKind() != StreamSessionEventKind.STREAM_SESSION_EVENT_KIND_HEARTBEAT) {
        System.out.printf(
            "watch: %s %s%n",
            event.getKind().name().replaceFirst("^STREAM_SESSION_EVENT_KIND_", ""),
            lastStatus.name());
      }
    }
  }

  private static void printBreak(StatusRuntimeException e) {
    System.out.printf(
        "watch: stream ended with %s; resuming from the last token%n", e.getStatus().getCode());
  }

  private static boolean isTerminal(StreamSessionStatus status) {
    return status == StreamSessionStatus.STREAM_SESSION_STATUS_TERMINATED
        || status == StreamSessionStatus.STREAM_SESSION_STATUS_ERROR;
  }

  /** A response and how many attempts it took. */
  private record Attempted<T>(T response, int attempts) {}

  /**
   * Makes a call, with a fresh deadline per attempt, and repeats it while it fails UNAVAILABLE
   * (always safe to retry), after the delay google.rpc.RetryInfo asks for. The call sends the
   * same request each time, so the same request_id.
   */
  private <T> Attempted<T> withRetry(
      String what, long deadlineSeconds, Function<StreamSessionsBlockingStub, T> call)
      throws Failure, InterruptedException {
    for (int attempt = 1; ; attempt++) {
      try {
        // A deadline is a point in time: set it on the stub for each call, not once.
        return new Attempted<>(
            call.apply(stub.withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS)), attempt);
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
   * What a failed call says: its gRPC code and the google.rpc details the gateway attaches in the
   * grpc-status-details-bin trailer. The reason is ErrorInfo's, parsed (UNRECOGNIZED for one a
   * newer gateway added) and as sent (reasonName).
   */
  record ErrorDetails(
      Status.Code code,
      ErrorReason reason,
      String reasonName,
      long retryDelayMillis,
      List<String> fields) {

    static ErrorDetails of(StatusRuntimeException e) {
      ErrorReason reason = ErrorReason.ERROR_REASON_UNSPECIFIED;
      String reasonName = "";
      long retryDelayMillis = 1000; // when a retryable error carries no RetryInfo
      List<String> fields = new ArrayList<>();
      // null when the call failed without details (the gateway could not be reached, say).
      com.google.rpc.Status status = StatusProto.fromThrowable(e);
      if (status != null) {
        for (Any detail : status.getDetailsList()) {
          try {
            if (detail.is(ErrorInfo.class)) {
              reasonName = detail.unpack(ErrorInfo.class).getReason();
              // Reason strings are ErrorReason value names; one this code lacks is UNRECOGNIZED.
              EnumValueDescriptor value = ErrorReason.getDescriptor().findValueByName(reasonName);
              reason = value == null ? ErrorReason.UNRECOGNIZED : ErrorReason.valueOf(value);
            } else if (detail.is(RetryInfo.class)) {
              Duration delay = detail.unpack(RetryInfo.class).getRetryDelay();
              retryDelayMillis = delay.getSeconds() * 1000 + delay.getNanos() / 1_000_000;
            } else if (detail.is(BadRequest.class)) {
              for (BadRequest.FieldViolation violation :
                  detail.unpack(BadRequest.class).getFieldViolationsList()) {
                fields.add(violation.getField());
              }
            }
          } catch (InvalidProtocolBufferException malformed) {
            // A detail that does not parse tells nothing: skip it.
          }
        }
      }
      return new ErrorDetails(e.getStatus().getCode(), reason, reasonName, retryDelayMillis, fields);
    }

    @Override
    public String toString() {
      return "code=" + code + " reason=" + reasonName;
    }
  }

  /** An unexpected outcome: the example prints "failed: <what>" and exits 1. */
  static final class Failure extends Exception {
    Failure(String what) {
      super(what);
    }

    static Failure of(String what, StatusRuntimeException e) {
      String description = e.getStatus().getDescription();
      return new Failure(
          what + ": " + ErrorDetails.of(e) + (description == null ? "" : " (" + description + ")"));
    }
  }

  /** Stands for the WebRTC offer a real client (the GameLift Streams Web SDK) makes. */
  private static String clientSignalRequest() {
    return "{\"type\":\"offer\",\"sdp\":\"v=0 simulated client " + UUID.randomUUID() + "\"}";
  }

  static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }
}
