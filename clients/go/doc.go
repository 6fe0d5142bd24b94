// Package client is the root of the Go client of the gamelift-streams-gateway
// sidecar. The generated code is in two packages, one per service:
//
//	import streamsv1 "github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go/gamelift/streams/v1"
//	import realtimev1 "github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go/ivs/realtime/v1"
//
//	sessions := streamsv1.NewStreamSessionsClient(conn) // GameLift Streams
//	stages := realtimev1.NewStagesClient(conn)          // IVS Real-Time stages
//
// Both services are served on the sidecar's one port, so one connection
// serves both clients. Each package has its own ErrorReason enum (the
// reasons of its service's google.rpc.ErrorInfo); the two share value names
// and numbers.
//
// The code is generated from proto/gamelift/streams/v1 and
// proto/ivs/realtime/v1 by generate.sh (buf with protoc-gen-go and
// protoc-gen-go-grpc at pinned versions) and checked in;
// `generate.sh --check` fails when it is not current. The google.rpc error
// details the gateway attaches (ErrorInfo, RetryInfo, BadRequest) are the
// standard google.golang.org/genproto/googleapis/rpc/errdetails types.
package client
