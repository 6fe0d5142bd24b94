module github.com/gamelift-streams-gateway/gamelift-streams-gateway/examples/go

go 1.26.0

require (
	github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go v0.0.0
	github.com/google/uuid v1.6.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/grpc v1.85.0
)

require (
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// The client module lives in this repository; a project of yours would
// require a tagged version of it instead.
replace github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go => ../../clients/go
