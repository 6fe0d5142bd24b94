//! The standalone `emulator` command: its first stdout line, its simulated clock
//! seen through the SDK, and a clean exit on SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_gameliftstreams::types::{StreamSessionStatus, StreamSessionStatusReason};
use support::{sdk_client, GROUP};

struct Emulator {
    child: Child,
    url: String,
}

fn spawn(args: &[&str]) -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"))
        .arg("emulator")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("first line");
    let url = first
        .trim_end()
        .strip_prefix("emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    Emulator { child, url }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn first_line_names_the_bound_port_and_sigterm_exits_zero() {
    let mut em = spawn(&["--listen", "127.0.0.1:0"]);
    let port = em.url.strip_prefix("http://127.0.0.1:").expect("host").parse::<u16>().expect("port");
    assert_ne!(port, 0);
    let status = Command::new("kill").args(["-TERM", &em.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let exit = em.child.wait().expect("exit status");
    assert!(exit.success(), "{exit:?}");
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
    let client = sdk_client(&em.url);
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
