// The stage part of the script (examples/README.md, steps 8 to 13): an IVS
// Real-Time stage for a match, with a token for a player and one for a
// spectator, watched while they join, publish and leave, through the same
// sidecar and the same channel as the stream sessions.
//
// NOT COMPILED BY OUR CI either: tests/interop/test_csharp.py checks this
// file as it checks Example.cs.

using System.Text;
using System.Text.Json;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using Ivs.Realtime.V1;

sealed class StagePart
{
    private const int MaxAttempts = 5;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);
    // The one watch stream of the stage part sees every join, publish and leave.
    private static readonly TimeSpan StageWatchTimeout = TimeSpan.FromSeconds(60);

    private readonly Stages.StagesClient _stages;
    // The deadline and the token, as for the stream sessions (Example.Call).
    private readonly Func<TimeSpan, CallOptions> _call;

    public StagePart(GrpcChannel channel, Func<TimeSpan, CallOptions> call)
    {
        _stages = new Stages.StagesClient(channel);
        _call = call;
    }

    public async Task RunAsync()
    {
        // 8. Create the stage. As for every mutating call, the request_id is
        // made once and sent on every retry. AWS cannot de-duplicate
        // CreateStage, so after an answer lost on the way back the gateway
        // answers UNKNOWN (OUTCOME_UNKNOWN, not retried) and sends nothing
        // more for this request_id; the unique name finds the stage
        // (docs/stages.md, Idempotency).
        var create = new CreateStageRequest
        {
            Name = $"match-{Guid.NewGuid()}",
            RequestId = Guid.NewGuid().ToString(),
        };
        var created = await WithRetriesAsync("create stage", async () => await _stages.CreateStageAsync(create, _call(CallTimeout)));
        var stageArn = created.Stage.Arn;
        Console.WriteLine($"stage: created {stageArn}");

        // 9. One token per participant: a player sends and receives audio
        // and video, a spectator only receives. Each goes to its game
        // client, which joins the stage with an IVS broadcast SDK.
        var player = await CreateTokenAsync(stageArn, "player", ParticipantTokenCapability.Publish, ParticipantTokenCapability.Subscribe);
        var spectator = await CreateTokenAsync(stageArn, "spectator", ParticipantTokenCapability.Subscribe);

        // 10. Watch the stage's participants: a SNAPSHOT of each one on it,
        // SYNCED, then a CHANGE per event. The stream never ends by itself:
        // disposing the call (the end of this block) cancels it.
        using (var call = _stages.WatchStageParticipants(new WatchStageParticipantsRequest { StageArn = stageArn }, _call(StageWatchTimeout)))
        {
            var watch = new StageWatch(call.ResponseStream);
            await watch.UntilAsync(StageParticipantEventKind.Synced);

            // 11. Simulated game clients join and publish with the tokens:
            // only the emulator has them. Against a real deployment the
            // example goes on.
            var emulatorUrl = Environment.GetEnvironmentVariable("GLS_EMULATOR_URL");
            if (string.IsNullOrEmpty(emulatorUrl))
            {
                Console.WriteLine("stage: GLS_EMULATOR_URL unset; skipping the simulated clients");
            }
            else
            {
                await PlayAndWatchAsync(stageArn, new SimulatedClients(emulatorUrl), watch, player, spectator);
            }
        }

        // 12. Delete the stage (its own request_id): anyone still on it is disconnected.
        var delete = new DeleteStageRequest { StageArn = stageArn, RequestId = Guid.NewGuid().ToString() };
        await WithRetriesAsync("delete stage", async () => await _stages.DeleteStageAsync(delete, _call(CallTimeout)));
        Console.WriteLine("stage: deleted");

        // 13. The stage is gone: GetStage answers NOT_FOUND, read like every
        // error; the Stages service's reasons are Ivs.Realtime.V1.ErrorReason names.
        try
        {
            await _stages.GetStageAsync(new GetStageRequest { StageArn = stageArn }, _call(CallTimeout));
            throw new Failure("get stage after delete: the stage is still there");
        }
        catch (RpcException ex)
        {
            var error = CallError.From(ex);
            if (error.Code != StatusCode.NotFound || StageReason(error.ReasonName) != ErrorReason.NotFound)
            {
                throw;
            }
            Console.WriteLine($"stage: get after delete: {error.Describe()}");
        }
    }

    // The token a client joins the stage with; prints what it allows.
    private async Task<ParticipantToken> CreateTokenAsync(string stageArn, string userId, params ParticipantTokenCapability[] capabilities)
    {
        var request = new CreateParticipantTokenRequest
        {
            StageArn = stageArn,
            // UserId is the player's ID in the game: no personal data, it is not encrypted.
            Configuration = new ParticipantTokenConfiguration { UserId = userId, Capabilities = { capabilities } },
            RequestId = Guid.NewGuid().ToString(),
        };
        var response = await WithRetriesAsync("create token", async () => await _stages.CreateParticipantTokenAsync(request, _call(CallTimeout)));
        var token = response.ParticipantToken;
        var names = string.Join(",", token.Capabilities.Select(c => ProtoNames.Of(c)["PARTICIPANT_TOKEN_CAPABILITY_".Length..]));
        Console.WriteLine($"stage: token for {token.UserId} capabilities={names}");
        return token;
    }

    // The simulated clients join, publish and leave, and the backend
    // disconnects the spectator, each followed on the watch.
    private async Task PlayAndWatchAsync(string stageArn, SimulatedClients clients, StageWatch watch,
        ParticipantToken player, ParticipantToken spectator)
    {
        var steps = new Step[]
        {
            new(() => clients.JoinAsync("player", player.Token), ParticipantEventName.Joined, "player"),
            new(() => clients.ActAsync("player", player.ParticipantId, "publish"), ParticipantEventName.PublishStarted, "player"),
            new(() => clients.JoinAsync("spectator", spectator.Token), ParticipantEventName.Joined, "spectator"),
            new(() => DisconnectAsync(stageArn, spectator), ParticipantEventName.Left, "spectator"),
            new(() => clients.ActAsync("player", player.ParticipantId, "leave"), ParticipantEventName.Left, "player"),
        };
        foreach (var step in steps)
        {
            await step.Act();
            await watch.UntilAsync(StageParticipantEventKind.Change, step.Name, step.User);
        }
    }

    // One step of the simulated clients (or the backend), and the watch
    // event it makes: event Name of user User.
    private sealed record Step(Func<Task> Act, ParticipantEventName Name, string User);

    // Removes a participant from the stage and revokes its token (the
    // backend's call: a spectator whose match ended, a player kicked).
    private async Task DisconnectAsync(string stageArn, ParticipantToken token)
    {
        var request = new DisconnectParticipantRequest
        {
            StageArn = stageArn,
            ParticipantId = token.ParticipantId,
            Reason = "spectating ended",
            RequestId = Guid.NewGuid().ToString(),
        };
        await WithRetriesAsync("disconnect", async () => await _stages.DisconnectParticipantAsync(request, _call(CallTimeout)));
        Console.WriteLine($"stage: disconnected {token.UserId}");
    }

    // Makes `call` (the same request, with its request_id, every time)
    // until it succeeds, retrying UNAVAILABLE (always safe with the same
    // request_id) after the RetryInfo delay.
    private static async Task<T> WithRetriesAsync<T>(string name, Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && attempt < MaxAttempts)
            {
                var error = CallError.From(ex);
                Console.WriteLine($"{name}: attempt {attempt} failed: {error.Describe()} retry_delay_ms={(long)error.RetryDelay.TotalMilliseconds}");
                await Task.Delay(error.RetryDelay);
            }
        }
    }

    // ErrorInfo's reason as an Ivs.Realtime.V1.ErrorReason (Unspecified for
    // one a newer gateway added), looked up by its .proto name as CallError
    // does for the stream sessions' reasons.
    private static ErrorReason StageReason(string reasonName) =>
        ErrorReasonReflection.Descriptor.FindTypeByName<EnumDescriptor>("ErrorReason")
            .FindValueByName(reasonName) is { } value ? (ErrorReason)value.Number : ErrorReason.Unspecified;
}

// Reads one WatchStageParticipants stream, event by event.
sealed class StageWatch
{
    private readonly IAsyncStreamReader<WatchStageParticipantsResponse> _stream;

    public StageWatch(IAsyncStreamReader<WatchStageParticipantsResponse> stream) => _stream = stream;

    // Prints the stream's events (heartbeats only prove it alive) until one
    // of `kind` comes (for a CHANGE: event `name` of user `user`).
    public async Task UntilAsync(StageParticipantEventKind kind, ParticipantEventName name = ParticipantEventName.Unspecified, string user = "")
    {
        while (await _stream.MoveNext(CancellationToken.None))
        {
            var watched = _stream.Current.Event;
            var label = ProtoNames.Of(watched.Kind)["STAGE_PARTICIPANT_EVENT_KIND_".Length..];
            switch (watched.Kind)
            {
                case StageParticipantEventKind.Heartbeat:
                    continue; // alive, nothing new
                case StageParticipantEventKind.Snapshot:
                    Console.WriteLine($"stage watch: {label} {watched.Participant.UserId} {ProtoNames.Of(watched.Participant.State)}");
                    break;
                case StageParticipantEventKind.Synced:
                    Console.WriteLine($"stage watch: {label}");
                    break;
                case StageParticipantEventKind.Change:
                    Console.WriteLine($"stage watch: {label} {ProtoNames.Of(watched.ParticipantEvent.Name)} {watched.Participant.UserId}");
                    break;
            }
            if (watched.Kind == kind && (kind != StageParticipantEventKind.Change ||
                (watched.ParticipantEvent?.Name == name && watched.Participant?.UserId == user)))
            {
                return;
            }
        }
        throw new Failure("stage watch: the stream ended");
    }
}

// Stand-ins for the game clients of a stage. A real client joins with the
// IVS broadcast SDK and the token the backend handed it; here the
// emulator's admin API (docs/emulator.md, "Admin API for simulated
// participants") plays them. A backend has nothing like this: leave it out
// when you copy.
sealed class SimulatedClients
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly string _emulatorUrl;

    public SimulatedClients(string emulatorUrl) => _emulatorUrl = emulatorUrl;

    // The client of `user` joins the stage with its token.
    public async Task JoinAsync(string user, string token)
    {
        Console.WriteLine($"stage client: {user} joins");
        await PostAsync("/_emulator/ivs/participants", JsonSerializer.Serialize(new { token }));
    }

    // The client of `user` does `action`: "publish", "unpublish" or "leave".
    public async Task ActAsync(string user, string participantId, string action)
    {
        Console.WriteLine($"stage client: {user} {Verb(action)}");
        await PostAsync($"/_emulator/ivs/participants/{Uri.EscapeDataString(participantId)}/{action}", "{}");
    }

    private static string Verb(string action) => action switch
    {
        "publish" => "publishes",
        "unpublish" => "unpublishes",
        "leave" => "leaves",
        _ => throw new Failure($"simulated client: no action {action}"),
    };

    private async Task PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(_emulatorUrl + path, content);
        if (!response.IsSuccessStatusCode)
        {
            var answer = await response.Content.ReadAsStringAsync();
            throw new Failure($"simulated client: POST {path}: {(int)response.StatusCode} {answer}");
        }
    }
}
