// The stage part of the script (examples/README.md, steps 8 to 13): an IVS
// Real-Time stage for a match, with a token for a player and one for a
// spectator, watched while they join, publish and leave, through the same
// sidecar and the same channel as the stream sessions.
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "gateway_call.h"

namespace example {

// Runs steps 8 to 13 on `channel`, each call with `settings`; the simulated
// clients play only when GLS_EMULATOR_URL is set.
void RunStage(const std::shared_ptr<grpc::Channel>& channel, const CallSettings& settings);

}  // namespace example
