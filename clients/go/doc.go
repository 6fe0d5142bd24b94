// Package client is the root of the Go client of the gamelift-streams-gateway
// sidecar. The generated code is in the package streamsv1, under
// gamelift/streams/v1:
//
//	import streamsv1 "github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go/gamelift/streams/v1"
//
//	client := streamsv1.NewStreamSessionsClient(conn)
//
// It is generated from proto/gamelift/streams/v1 by generate.sh (buf with
// protoc-gen-go and protoc-gen-go-grpc at pinned versions) and checked in;
// `generate.sh --check` fails when it is not current. The google.rpc error
// details the gateway attaches (ErrorInfo, RetryInfo, BadRequest) are the
// standard google.golang.org/genproto/googleapis/rpc/errdetails types.
package client
