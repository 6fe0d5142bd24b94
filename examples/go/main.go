// Command example is one backend's life with a GameLift Streams stream
// session, through the gamelift-streams-gateway sidecar: start it (retrying
// safely), hand its signal response to the client, reconnect the client,
// watch it, terminate it; then with an IVS Real-Time stage beside it
// (stage.go): tokens for a player and a spectator, their joins, publishing
// and leaving watched, a disconnect, the stage deleted. examples/README.md
// lists what it prints.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	streamsv1 "github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go/gamelift/streams/v1"
)

// Every call has a deadline: without one, a call to a gateway that cannot
// answer waits forever. A call with wait_for_active waits for the session to
// become ACTIVE, so it gets longer; the gateway answers SESSION_NOT_READY
// shortly before the deadline rather than letting it pass.
const (
	callTimeout   = 10 * time.Second
	activeTimeout = 30 * time.Second
	watchTimeout  = 2 * time.Second
	maxAttempts   = 5
)

func main() {
	if err := run(); err != nil {
		fmt.Printf("failed: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("done")
}

func run() error {
	address := env("GLS_GATEWAY_ADDRESS", "127.0.0.1:50051")
	group := env("GLS_STREAM_GROUP", "sg-000000001")
	application := env("GLS_APPLICATION", "a-000000001")

	// The sidecar listens in plaintext next to the backend (same pod or
	// host); when it requires a token, each call carries it as
	// "authorization: Bearer TOKEN" metadata.
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token := os.Getenv("GLS_GATEWAY_TOKEN"); token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(token)))
	}
	conn, err := grpc.NewClient(address, opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", address, err)
	}
	defer conn.Close()
	client := streamsv1.NewStreamSessionsClient(conn)

	// 1. A call the gateway rejects, to show how an error is read.
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	_, err = client.StartStreamSession(ctx, &streamsv1.StartStreamSessionRequest{
		ApplicationIdentifier: application,
		SignalRequest:         "offer",
	})
	cancel()
	if err == nil {
		return errors.New("a start without a stream group was accepted")
	}
	if e := readError(err); e.Code == codes.InvalidArgument && e.Reason == streamsv1.ErrorReason_INVALID_FIELD {
		fmt.Printf("rejected: code=%s reason=%s field=%s\n", codeName(e.Code), e.ReasonName, strings.Join(e.Fields, ","))
	} else {
		return fmt.Errorf("start without a stream group: %v", e)
	}

	// 2. Start a session and wait until it is ACTIVE. The request_id is made
	// once, before the first attempt: every retry sends the same one, so a
	// start whose answer was lost (the session exists, the call failed)
	// returns that session instead of starting a second one.
	start := &streamsv1.StartStreamSessionRequest{
		StreamGroupIdentifier: group,
		ApplicationIdentifier: application,
		SignalRequest:         "offer from the client", // the client's WebRTC signal request
		RequestId:             uuid.NewString(),
		WaitForActive:         true,
	}
	var session *streamsv1.StreamSession
	attempts, err := retry("start", activeTimeout, func(ctx context.Context) error {
		resp, err := client.StartStreamSession(ctx, start)
		session = resp.GetStreamSession()
		return err
	})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	arn := session.GetArn()
	fmt.Printf("started: %s status=%s attempts=%d\n", arn, session.GetStatus(), attempts)

	// 3. The signal response goes back to the client, which connects with it.
	fmt.Printf("signal response: %d bytes handed to the client\n", len(session.GetSignalResponse()))

	// 4. The client lost its connection and comes back with a new signal
	// request; again one request_id for all attempts.
	reconnect := &streamsv1.CreateStreamSessionConnectionRequest{
		StreamGroupIdentifier:   group,
		StreamSessionIdentifier: arn,
		SignalRequest:           "new offer from the client",
		RequestId:               uuid.NewString(),
		WaitForActive:           true,
	}
	var connection *streamsv1.CreateStreamSessionConnectionResponse
	if _, err := retry("reconnect", activeTimeout, func(ctx context.Context) (err error) {
		connection, err = client.CreateStreamSessionConnection(ctx, reconnect)
		return err
	}); err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	fmt.Printf("reconnected: status=%s signal response %d bytes\n",
		connection.GetStreamSession().GetStatus(), len(connection.GetSignalResponse()))

	// 5. Watch the session. Any stream may break (here its 2 s deadline
	// ends it); the last event's resume_token lets the next stream go on
	// where this one stopped, without a new snapshot.
	ctx, cancel = context.WithTimeout(context.Background(), watchTimeout)
	resumeToken, ended, err := watch(ctx, client, group, arn, "")
	cancel()
	if ended {
		return errors.New("the session ended while it was watched")
	}
	if !resumable(err) {
		return fmt.Errorf("watch: %v", readError(err))
	}
	fmt.Printf("watch: stream ended with %s; resuming from the last token\n", codeName(status.Code(err)))

	// 6. Terminate it, with its own request_id.
	terminate := &streamsv1.TerminateStreamSessionRequest{
		StreamGroupIdentifier:   group,
		StreamSessionIdentifier: arn,
		RequestId:               uuid.NewString(),
	}
	var terminated *streamsv1.TerminateStreamSessionResponse
	if _, err := retry("terminate", callTimeout, func(ctx context.Context) (err error) {
		terminated, err = client.TerminateStreamSession(ctx, terminate)
		return err
	}); err != nil {
		return fmt.Errorf("terminate: %w", err)
	}
	fmt.Printf("terminated: status=%s\n", terminated.GetStreamSession().GetStatus())

	// 7. Watch again from the last token until the session has ended,
	// resuming each time the stream breaks.
	for streams := 1; !ended; streams++ {
		if streams > maxAttempts {
			return fmt.Errorf("the session did not end within %d watch streams", maxAttempts)
		}
		ctx, cancel = context.WithTimeout(context.Background(), callTimeout)
		resumeToken, ended, err = watch(ctx, client, group, arn, resumeToken)
		cancel()
		if !ended {
			if !resumable(err) {
				return fmt.Errorf("watch: %v", readError(err))
			}
			fmt.Printf("watch: stream ended with %s; resuming from the last token\n", codeName(status.Code(err)))
		}
	}

	// 8. to 13. A stage for the match's cameras and voice, on the same
	// connection: one sidecar, one port, two services.
	return runStage(conn)
}

// retry makes a call until it succeeds, retrying UNAVAILABLE (always safe
// with the same request_id) after the delay the gateway's
// google.rpc.RetryInfo asks for. Each attempt gets its own deadline. It
// returns the number of attempts made.
func retry(name string, timeout time.Duration, call func(ctx context.Context) error) (int, error) {
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := call(ctx)
		cancel()
		if err == nil {
			return attempt, nil
		}
		e := readError(err)
		if e.Code != codes.Unavailable || attempt == maxAttempts {
			return attempt, e
		}
		delay := e.RetryDelay
		if delay <= 0 { // UNAVAILABLE from the connection itself carries no RetryInfo
			delay = time.Second
		}
		fmt.Printf("%s: attempt %d failed: code=%s reason=%s retry_delay_ms=%d\n",
			name, attempt, codeName(e.Code), e.ReasonName, delay.Milliseconds())
		time.Sleep(delay)
	}
}

// watch reads one WatchStreamSession stream from resumeToken (empty: from a
// snapshot), printing snapshots and changes (heartbeats only prove the
// stream alive). It returns the last event's resume token, whether the
// session ended (TERMINATED or ERROR, after which the gateway closes the
// stream), and otherwise the error the stream ended with (nil if it closed
// cleanly before the end).
func watch(ctx context.Context, client streamsv1.StreamSessionsClient, group, arn, resumeToken string) (string, bool, error) {
	stream, err := client.WatchStreamSession(ctx, &streamsv1.WatchStreamSessionRequest{
		StreamGroupIdentifier:   group,
		StreamSessionIdentifier: arn,
		ResumeToken:             resumeToken,
	})
	if err != nil {
		return resumeToken, false, err
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return resumeToken, false, nil
		}
		if err != nil {
			return resumeToken, false, err
		}
		event := resp.GetEvent()
		resumeToken = event.GetResumeToken()
		if event.GetKind() == streamsv1.StreamSessionEventKind_STREAM_SESSION_EVENT_KIND_HEARTBEAT {
			continue
		}
		state := event.GetStreamSession().GetStatus()
		kind := strings.TrimPrefix(event.GetKind().String(), "STREAM_SESSION_EVENT_KIND_")
		fmt.Printf("watch: %s %s\n", kind, state)
		if state == streamsv1.StreamSessionStatus_STREAM_SESSION_STATUS_TERMINATED ||
			state == streamsv1.StreamSessionStatus_STREAM_SESSION_STATUS_ERROR {
			return resumeToken, true, nil
		}
	}
}

// resumable tells whether a watch stream that ended this way is resumed:
// it broke (deadline, gateway restarting, connection lost) or closed early.
func resumable(err error) bool {
	switch status.Code(err) {
	case codes.OK, codes.DeadlineExceeded, codes.Unavailable:
		return true
	}
	return false
}

// rpcError is what the gateway attaches to every error, read from the
// status details (the grpc-status-details-bin trailer): the code,
// google.rpc.ErrorInfo's reason (an ErrorReason value name) parsed into the
// enum, the google.rpc.RetryInfo delay of UNAVAILABLE errors, and the fields
// that google.rpc.BadRequest names on INVALID_ARGUMENT.
type rpcError struct {
	Code       codes.Code
	Message    string
	Reason     streamsv1.ErrorReason // ERROR_REASON_UNSPECIFIED when this code does not know it
	ReasonName string                // the reason as sent, even one a newer gateway added
	RetryDelay time.Duration
	Fields     []string
}

func readError(err error) rpcError {
	st := status.Convert(err)
	e := rpcError{Code: st.Code(), Message: st.Message()}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.ReasonName = d.GetReason()
			// Reason strings are ErrorReason value names; an unknown one looks up as 0, ERROR_REASON_UNSPECIFIED.
			e.Reason = streamsv1.ErrorReason(streamsv1.ErrorReason_value[e.ReasonName])
		case *errdetails.RetryInfo:
			e.RetryDelay = d.GetRetryDelay().AsDuration()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.Fields = append(e.Fields, v.GetField())
			}
		}
	}
	return e
}

func (e rpcError) Error() string {
	return fmt.Sprintf("code=%s reason=%s message=%q", codeName(e.Code), e.ReasonName, e.Message)
}

// codeName is a gRPC code's canonical name, as in INVALID_ARGUMENT.
func codeName(c codes.Code) string { return code.Code(c).String() }

// bearerToken sends the gateway's token with every call.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity is false: the sidecar is reached over plaintext
// on the local network of the pod.
func (bearerToken) RequireTransportSecurity() bool { return false }

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
