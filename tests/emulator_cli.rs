//! The standalone `emulator` command: its first stdout line, its simulated clock
//! seen through the SDK, and a clean exit on SIGTERM.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_gameliftstreams::types::{StreamSessionStatus, StreamSessionStatusReason};
use support::process::{announced, ChildProcess};
use support::{sdk_client, GROUP};

/// The standalone emulator with `args`; its URL is its `address`.
fn spawn(args: &[&str]) -> ChildProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"));
    command.arg("emulator").args(args);
    announced(command, "emulator listening on ")
}

#[test]
fn first_line_names_the_bound_port_and_sigterm_exits_zero() {
    let em = spawn(&["--listen", "127.0.0.1:0"]);
    let port = em.address.strip_prefix("http://127.0.0.1:").expect("host").parse::<u16>().expect("port");
    assert_ne!(port, 0);
    let (exit, stderr) = em.stop();
    assert!(exit.success(), "{exit:?}: {stderr}");
}

#[test]
fn invalid_flags_fail_before_listening() {
    let out = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--time-scale", "0"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--time-scale"));
}

#[tokio::test]
async fn time_scale_lives_through_a_connection_timeout_in_real_seconds() {
    let em = spawn(&["--listen", "127.0.0.1:0", "--time-scale", "400"]);
    let client = sdk_client(&em.address);
    let started = client
        .start_stream_session()
        .identifier(GROUP)
        .application_identifier(support::APP)
        .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
        .signal_request("offer")
        .connection_timeout_seconds(120)
        .send()
        .await
        .expect("start");
    let arn = started.arn.expect("arn");
    // 20 real seconds are 8000 simulated ones: far past the 127 s the session
    // needs to activate, time out and terminate. Polls until then.
    let give_up = Instant::now() + Duration::from_secs(20);
    let last = loop {
        let s = client.get_stream_session().identifier(GROUP).stream_session_identifier(&arn).send().await;
        let s = s.expect("get");
        if s.status == Some(StreamSessionStatus::Terminated) || Instant::now() > give_up {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(last.status, Some(StreamSessionStatus::Terminated));
    assert_eq!(last.status_reason, Some(StreamSessionStatusReason::ConnectionTimeout));
}
