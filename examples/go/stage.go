package main

// The stage part of the script (examples/README.md): an IVS Real-Time stage
// for a match, with a token for a player and one for a spectator, watched
// while they join, publish and leave, through the same sidecar and the same
// connection as the stream sessions.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	realtimev1 "github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go/ivs/realtime/v1"
)

// stageWatchTimeout bounds the one watch stream of the stage part: it sees
// every join, publish and leave of the script.
const stageWatchTimeout = 60 * time.Second

func runStage(conn grpc.ClientConnInterface) error {
	stages := realtimev1.NewStagesClient(conn)

	// 8. Create the stage. As for every mutating call, the request_id is
	// made once and sent on every retry. AWS cannot de-duplicate CreateStage,
	// so after an answer lost on the way back the gateway answers UNKNOWN
	// (OUTCOME_UNKNOWN, not retried) and sends nothing more for this
	// request_id; the unique name finds the stage (docs/stages.md, Idempotency).
	create := &realtimev1.CreateStageRequest{
		Name:      "match-" + uuid.NewString(),
		RequestId: uuid.NewString(),
	}
	var stage *realtimev1.Stage
	if _, err := retry("create stage", callTimeout, func(ctx context.Context) error {
		resp, err := stages.CreateStage(ctx, create)
		stage = resp.GetStage()
		return err
	}); err != nil {
		return fmt.Errorf("create stage: %w", err)
	}
	arn := stage.GetArn()
	fmt.Printf("stage: created %s\n", arn)

	// 9. One token per participant: a player sends and receives audio and
	// video, a spectator only receives. Each token goes to its game client,
	// which joins the stage with an IVS broadcast SDK.
	player, err := createToken(stages, arn, "player",
		realtimev1.ParticipantTokenCapability_PARTICIPANT_TOKEN_CAPABILITY_PUBLISH,
		realtimev1.ParticipantTokenCapability_PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE)
	if err != nil {
		return err
	}
	spectator, err := createToken(stages, arn, "spectator",
		realtimev1.ParticipantTokenCapability_PARTICIPANT_TOKEN_CAPABILITY_SUBSCRIBE)
	if err != nil {
		return err
	}

	// 10. Watch the stage's participants: a SNAPSHOT of each one on it,
	// SYNCED, then a CHANGE per event. The stream never ends by itself;
	// cancelling the context closes it.
	ctx, cancel := context.WithTimeout(context.Background(), stageWatchTimeout)
	defer cancel()
	stream, err := stages.WatchStageParticipants(ctx, &realtimev1.WatchStageParticipantsRequest{StageArn: arn})
	if err != nil {
		return fmt.Errorf("stage watch: %v", readError(err))
	}
	watch := stageWatch{stream: stream}
	if err := watch.until(realtimev1.StageParticipantEventKind_STAGE_PARTICIPANT_EVENT_KIND_SYNCED, 0, ""); err != nil {
		return err
	}

	// 11. Simulated game clients join and publish with the tokens: only the
	// emulator has them. Against a real deployment the example goes on.
	if url := os.Getenv("GLS_EMULATOR_URL"); url == "" {
		fmt.Println("stage: GLS_EMULATOR_URL unset; skipping the simulated clients")
	} else if err := playAndWatch(stages, arn, emulatorClients{url: url}, &watch, player, spectator); err != nil {
		return err
	}
	cancel()

	// 12. Delete the stage (its own request_id): anyone still on it is
	// disconnected.
	remove := &realtimev1.DeleteStageRequest{StageArn: arn, RequestId: uuid.NewString()}
	if _, err := retry("delete stage", callTimeout, func(ctx context.Context) error {
		_, err := stages.DeleteStage(ctx, remove)
		return err
	}); err != nil {
		return fmt.Errorf("delete stage: %w", err)
	}
	fmt.Println("stage: deleted")

	// 13. The stage is gone: GetStage answers NOT_FOUND, read like every
	// error (the reasons of the Stages service are realtimev1.ErrorReason).
	ctx, cancel = context.WithTimeout(context.Background(), callTimeout)
	_, err = stages.GetStage(ctx, &realtimev1.GetStageRequest{StageArn: arn})
	cancel()
	e := readError(err)
	if err == nil || e.Code != codes.NotFound ||
		realtimev1.ErrorReason(realtimev1.ErrorReason_value[e.ReasonName]) != realtimev1.ErrorReason_NOT_FOUND {
		return fmt.Errorf("get stage after delete: %v", e)
	}
	fmt.Printf("stage: get after delete: code=%s reason=%s\n", codeName(e.Code), e.ReasonName)
	return nil
}

// createToken makes the token a client joins the stage with, and prints
// what it allows.
func createToken(stages realtimev1.StagesClient, arn, userID string, capabilities ...realtimev1.ParticipantTokenCapability) (*realtimev1.ParticipantToken, error) {
	request := &realtimev1.CreateParticipantTokenRequest{
		StageArn: arn,
		Configuration: &realtimev1.ParticipantTokenConfiguration{
			UserId:       userID, // the player's ID in the game; no personal data
			Capabilities: capabilities,
		},
		RequestId: uuid.NewString(),
	}
	var token *realtimev1.ParticipantToken
	if _, err := retry("create token", callTimeout, func(ctx context.Context) error {
		resp, err := stages.CreateParticipantToken(ctx, request)
		token = resp.GetParticipantToken()
		return err
	}); err != nil {
		return nil, fmt.Errorf("create token for %s: %w", userID, err)
	}
	names := make([]string, 0, len(token.GetCapabilities()))
	for _, c := range token.GetCapabilities() {
		names = append(names, strings.TrimPrefix(c.String(), "PARTICIPANT_TOKEN_CAPABILITY_"))
	}
	fmt.Printf("stage: token for %s capabilities=%s\n", token.GetUserId(), strings.Join(names, ","))
	return token, nil
}

// playAndWatch has the simulated clients join, publish and leave, and the
// backend disconnect the spectator, each followed on the watch.
func playAndWatch(stages realtimev1.StagesClient, arn string, clients emulatorClients, watch *stageWatch, player, spectator *realtimev1.ParticipantToken) error {
	const (
		joined    = realtimev1.ParticipantEventName_PARTICIPANT_EVENT_NAME_JOINED
		published = realtimev1.ParticipantEventName_PARTICIPANT_EVENT_NAME_PUBLISH_STARTED
		left      = realtimev1.ParticipantEventName_PARTICIPANT_EVENT_NAME_LEFT
	)
	change := realtimev1.StageParticipantEventKind_STAGE_PARTICIPANT_EVENT_KIND_CHANGE
	steps := []struct {
		act   func() error
		event realtimev1.ParticipantEventName
		user  string
	}{
		{func() error { return clients.join("player", player.GetToken()) }, joined, "player"},
		{func() error { return clients.act("player", player.GetParticipantId(), "publish") }, published, "player"},
		{func() error { return clients.join("spectator", spectator.GetToken()) }, joined, "spectator"},
		{func() error { return disconnect(stages, arn, spectator) }, left, "spectator"},
		{func() error { return clients.act("player", player.GetParticipantId(), "leave") }, left, "player"},
	}
	for _, step := range steps {
		if err := step.act(); err != nil {
			return err
		}
		if err := watch.until(change, step.event, step.user); err != nil {
			return err
		}
	}
	return nil
}

// disconnect removes a participant from the stage and revokes its token
// (the backend's call: a spectator whose match ended, a player kicked).
func disconnect(stages realtimev1.StagesClient, arn string, token *realtimev1.ParticipantToken) error {
	request := &realtimev1.DisconnectParticipantRequest{
		StageArn:      arn,
		ParticipantId: token.GetParticipantId(),
		Reason:        "spectating ended",
		RequestId:     uuid.NewString(),
	}
	if _, err := retry("disconnect", callTimeout, func(ctx context.Context) error {
		_, err := stages.DisconnectParticipant(ctx, request)
		return err
	}); err != nil {
		return fmt.Errorf("disconnect %s: %w", token.GetUserId(), err)
	}
	fmt.Printf("stage: disconnected %s\n", token.GetUserId())
	return nil
}

// stageWatch reads one WatchStageParticipants stream.
type stageWatch struct {
	stream grpc.ServerStreamingClient[realtimev1.WatchStageParticipantsResponse]
}

// until prints the stream's events (heartbeats only prove it alive) until
// one of kind `kind` (and, for a CHANGE, of `name` for user `user`) comes.
func (w *stageWatch) until(kind realtimev1.StageParticipantEventKind, name realtimev1.ParticipantEventName, user string) error {
	for {
		resp, err := w.stream.Recv()
		if err == io.EOF {
			return errors.New("stage watch: the stream ended")
		}
		if err != nil {
			return fmt.Errorf("stage watch: %v", readError(err))
		}
		event := resp.GetEvent()
		participant := event.GetParticipant()
		label := strings.TrimPrefix(event.GetKind().String(), "STAGE_PARTICIPANT_EVENT_KIND_")
		switch event.GetKind() {
		case realtimev1.StageParticipantEventKind_STAGE_PARTICIPANT_EVENT_KIND_HEARTBEAT:
			continue
		case realtimev1.StageParticipantEventKind_STAGE_PARTICIPANT_EVENT_KIND_SNAPSHOT:
			fmt.Printf("stage watch: %s %s %s\n", label, participant.GetUserId(), participant.GetState())
		case realtimev1.StageParticipantEventKind_STAGE_PARTICIPANT_EVENT_KIND_SYNCED:
			fmt.Printf("stage watch: %s\n", label)
		case realtimev1.StageParticipantEventKind_STAGE_PARTICIPANT_EVENT_KIND_CHANGE:
			fmt.Printf("stage watch: %s %s %s\n", label, event.GetParticipantEvent().GetName(), participant.GetUserId())
		}
		if event.GetKind() == kind &&
			(kind != realtimev1.StageParticipantEventKind_STAGE_PARTICIPANT_EVENT_KIND_CHANGE ||
				event.GetParticipantEvent().GetName() == name && participant.GetUserId() == user) {
			return nil
		}
	}
}
