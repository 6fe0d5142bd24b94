// One backend's life with a GameLift Streams session, then with an IVS
// Real-Time stage beside it (Stage.cs), through the gamelift-streams-gateway
// sidecar, in C# with Grpc.Net.Client. examples/README.md lists the steps
// and the exact lines this prints.
//
// NOT COMPILED BY OUR CI: our CI machines have no NuGet. The CI only runs
// generate.sh and checks (tests/interop/test_csharp.py) that every generated
// type and member this file and Stage.cs use exists in the generated code. To build and
// run it yourself: docs/clients/csharp.md (generate.sh, then `dotnet run`).

using System.Reflection;
using GameLift.Streams.V1;
using Google.Protobuf.Reflection;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.StatusProto;

try
{
    await new Example().RunAsync();
}
catch (RpcException ex)
{
    Console.WriteLine($"failed: {CallError.From(ex).Describe()} ({ex.Status.Detail})");
    return 1;
}
catch (Exception ex)
{
    Console.WriteLine($"failed: {ex.Message}");
    return 1;
}
Console.WriteLine("done");
return 0;

sealed class Example
{
    private readonly GrpcChannel _channel;
    private readonly StreamSessions.StreamSessionsClient _client;
    private readonly string? _token = Environment.GetEnvironmentVariable("GLS_GATEWAY_TOKEN");
    private readonly string _group = Env("GLS_STREAM_GROUP", "sg-000000001");
    private readonly string _application = Env("GLS_APPLICATION", "a-000000001");

    // The last watch event's resume_token: a broken stream goes on from it.
    private string _resumeToken = "";

    public Example()
    {
        // One channel for the whole process and both services: it
        // reconnects by itself. The sidecar runs beside the backend, in plain
        // text (h2c); across a network, use an https:// address.
        _channel = GrpcChannel.ForAddress("http://" + Env("GLS_GATEWAY_ADDRESS", "127.0.0.1:50051"));
        _client = new StreamSessions.StreamSessionsClient(_channel);
    }

    public async Task RunAsync()
    {
        await ShowARejectedCallAsync();
        var session = await StartAsync();
        Console.WriteLine($"signal response: {session.SignalResponse.Length} bytes handed to the client");
        await ReconnectAsync(session.Arn);

        // Any stream may break (a deadline, a restarted sidecar): the next
        // call resumes from the last event's resume_token.
        try
        {
            await WatchOnceAsync(session.Arn, TimeSpan.FromSeconds(2));
            throw new Failure("the watch ended before its deadline");
        }
        catch (RpcException ex) when (Resumable(ex))
        {
            await ResumeAfterAsync(ex); // here: DEADLINE_EXCEEDED, after 2 s
        }

        await TerminateAsync(session.Arn);
        await WatchUntilEndedAsync(session.Arn);

        // The same channel, for the Stages service, each call with the same
        // deadline and token.
        await new StagePart(_channel, Call).RunAsync();
    }

    // Every call has a deadline (without one, a call to a stuck peer waits
    // forever) and, when the sidecar requires one, the bearer token.
    private CallOptions Call(TimeSpan timeout)
    {
        var headers = new Metadata();
        if (!string.IsNullOrEmpty(_token))
        {
            headers.Add("authorization", $"Bearer {_token}");
        }
        return new CallOptions(headers, DateTime.UtcNow + timeout);
    }

    // Stands in for the WebRTC signal request a real client (the GameLift
    // Streams Web SDK) sends to the backend.
    private static string SignalRequestFromClient() => "{\"type\":\"offer\",\"sdp\":\"v=0 simulated client\"}";

    // A call the gateway rejects (no stream group), to show how an error is read.
    private async Task ShowARejectedCallAsync()
    {
        var request = new StartStreamSessionRequest
        {
            ApplicationIdentifier = _application,
            SignalRequest = SignalRequestFromClient(),
        };
        try
        {
            await _client.StartStreamSessionAsync(request, Call(TimeSpan.FromSeconds(10)));
            throw new Failure("a start without a stream group was accepted");
        }
        catch (RpcException ex)
        {
            var error = CallError.From(ex);
            if (error.Code != StatusCode.InvalidArgument || error.Reason != ErrorReason.InvalidField)
            {
                throw;
            }
            var fields = string.Concat(error.Fields.Select(field => $" field={field}"));
            Console.WriteLine($"rejected: {error.Describe()}{fields}");
        }
    }

    // Starts a session and waits for it to be ACTIVE.
    private async Task<StreamSession> StartAsync()
    {
        var request = new StartStreamSessionRequest
        {
            StreamGroupIdentifier = _group,
            ApplicationIdentifier = _application,
            SignalRequest = SignalRequestFromClient(),
            // The request_id is made once, before the first attempt, and every
            // retry sends the same one: if an attempt started a session but
            // its answer was lost, the retry gets that session back instead
            // of starting a second.
            RequestId = Guid.NewGuid().ToString(),
            // Answer only once the session is ACTIVE, with its signal response.
            WaitForActive = true,
        };
        const int maxAttempts = 5;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // 30 s: the deadline covers the wait for ACTIVE.
                var response = await _client.StartStreamSessionAsync(request, Call(TimeSpan.FromSeconds(30)));
                var session = response.StreamSession;
                Console.WriteLine($"started: {session.Arn} status={ProtoNames.Of(session.Status)} attempts={attempt}");
                return session;
            }
            // UNAVAILABLE is always safe to retry with the same request_id,
            // after the RetryInfo delay; anything else is not for this code to fix.
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && attempt < maxAttempts)
            {
                var error = CallError.From(ex);
                Console.WriteLine($"start: attempt {attempt} failed: {error.Describe()} retry_delay_ms={(long)error.RetryDelay.TotalMilliseconds}");
                await Task.Delay(error.RetryDelay);
            }
        }
    }

    // A client reconnecting: a new signal request for the same session.
    private async Task ReconnectAsync(string arn)
    {
        var response = await _client.CreateStreamSessionConnectionAsync(new CreateStreamSessionConnectionRequest
        {
            StreamGroupIdentifier = _group,
            StreamSessionIdentifier = arn,
            SignalRequest = SignalRequestFromClient(),
            RequestId = Guid.NewGuid().ToString(),
            WaitForActive = true,
        }, Call(TimeSpan.FromSeconds(30)));
        Console.WriteLine($"reconnected: status={ProtoNames.Of(response.StreamSession.Status)} signal response {response.SignalResponse.Length} bytes");
    }

    private async Task TerminateAsync(string arn)
    {
        var response = await _client.TerminateStreamSessionAsync(new TerminateStreamSessionRequest
        {
            StreamGroupIdentifier = _group,
            StreamSessionIdentifier = arn,
            RequestId = Guid.NewGuid().ToString(),
        }, Call(TimeSpan.FromSeconds(10)));
        Console.WriteLine($"terminated: status={ProtoNames.Of(response.StreamSession.Status)}");
    }

    // Reads one WatchStreamSession stream from _resumeToken (empty: from a
    // SNAPSHOT), printing SNAPSHOT and CHANGE events and keeping the last
    // token. True once the session ended (TERMINATED or ERROR); a stream that
    // breaks throws RpcException.
    private async Task<bool> WatchOnceAsync(string arn, TimeSpan timeout)
    {
        var request = new WatchStreamSessionRequest
        {
            StreamGroupIdentifier = _group,
            StreamSessionIdentifier = arn,
            ResumeToken = _resumeToken,
        };
        using var call = _client.WatchStreamSession(request, Call(timeout));
        var ended = false;
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            var watched = response.Event;
            _resumeToken = watched.ResumeToken;
            if (watched.Kind == StreamSessionEventKind.Heartbeat)
            {
                continue; // alive, nothing new
            }
            var kind = ProtoNames.Of(watched.Kind)["STREAM_SESSION_EVENT_KIND_".Length..];
            Console.WriteLine($"watch: {kind} {ProtoNames.Of(watched.StreamSession.Status)}");
            ended |= watched.StreamSession.Status is StreamSessionStatus.Terminated or StreamSessionStatus.Error;
        }
        return ended;
    }

    // Follows the session to its end, resuming each time the stream breaks.
    private async Task WatchUntilEndedAsync(string arn)
    {
        for (var streams = 1; streams <= 10; streams++)
        {
            try
            {
                if (await WatchOnceAsync(arn, TimeSpan.FromSeconds(10)))
                {
                    return;
                }
                throw new Failure("the watch ended before the session");
            }
            catch (RpcException ex) when (Resumable(ex))
            {
                await ResumeAfterAsync(ex);
            }
        }
        throw new Failure("the session did not end");
    }

    // A stream that broke in passing: resume it, after RetryInfo's delay if any.
    private static bool Resumable(RpcException ex) =>
        ex.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable;

    private static async Task ResumeAfterAsync(RpcException ex)
    {
        var error = CallError.From(ex);
        Console.WriteLine($"watch: stream ended with {error.CodeName}; resuming from the last token");
        await Task.Delay(error.RetryDelay);
    }

    private static string Env(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;
}

// A failed call as the gateway describes it: the gRPC code, and the
// google.rpc.Status it sends in the grpc-status-details-bin trailer.
// ErrorInfo's reason is kept parsed (Unspecified for one a newer gateway
// added) and as sent (ReasonName).
sealed record CallError(StatusCode Code, ErrorReason Reason, string ReasonName, TimeSpan RetryDelay, IReadOnlyList<string> Fields)
{
    public static CallError From(RpcException ex)
    {
        Google.Rpc.Status? status = ex.GetRpcStatus();
        var info = status?.GetDetail<ErrorInfo>();
        var retry = status?.GetDetail<RetryInfo>();
        var badRequest = status?.GetDetail<BadRequest>();
        var reasonName = info?.Reason ?? "";
        // Reason strings are ErrorReason value names as the .proto spells them (C# members are
        // PascalCase), so look the name up in the enum's descriptor.
        var reason = ErrorReasonReflection.Descriptor.FindTypeByName<EnumDescriptor>("ErrorReason")
            .FindValueByName(reasonName) is { } value ? (ErrorReason)value.Number : ErrorReason.Unspecified;
        return new CallError(
            ex.StatusCode,
            reason,
            reasonName,
            retry?.RetryDelay?.ToTimeSpan() ?? TimeSpan.Zero,
            badRequest?.FieldViolations.Select(violation => violation.Field).ToList() ?? new List<string>());
    }

    // As gRPC names it (INVALID_ARGUMENT), not as C# does (InvalidArgument).
    public string CodeName => ProtoNames.Of((Google.Rpc.Code)(int)Code);

    public string Describe() => $"code={CodeName} reason={ReasonName}";
}

static class ProtoNames
{
    // An enum value as the .proto names it: STREAM_SESSION_STATUS_ACTIVE, not Active.
    public static string Of<T>(T value) where T : struct, Enum =>
        typeof(T).GetField(value.ToString())?.GetCustomAttribute<OriginalNameAttribute>()?.Name ?? value.ToString();
}

// An unexpected outcome: printed as "failed: <what>", exit status 1.
sealed class Failure : Exception
{
    public Failure(string message) : base(message) { }
}
