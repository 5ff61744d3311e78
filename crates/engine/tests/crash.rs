//! Crash tests: a child process appends and is killed with SIGKILL at a
//! random moment; after each kill the log must hold every acknowledged
//! offset, CRC-valid and dense.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Opens, retrying a Locked for a moment: the two tests here run in
/// parallel threads, and a child forked by the other one holds an inherited
/// copy of this process's previous lock descriptor until its exec.
fn open_after_children(dir: &std::path::Path) -> ferrolog_engine::Engine {
    for _ in 0..100 {
        match ferrolog_engine::Engine::open(dir, ferrolog_engine::EngineOptions::default()) {
            Err(ferrolog_engine::Error::Locked { .. }) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.expect("open engine"),
        }
    }
    open(dir)
}

fn run_crash(mode: &str, iterations: usize, threads: usize, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut acked_end: u64 = 0;
    let mut total_acks = 0usize;
    for round in 0..iterations {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrolog-crash-child"))
            .arg(dir.path())
            .arg(mode)
            .arg("5")
            .arg(threads.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split_whitespace();
                if parts.next() == Some("ack") {
                    let base: u64 = parts.next().unwrap().parse().unwrap();
                    let last: u64 = parts.next().unwrap().parse().unwrap();
                    acks.push((base, last));
                }
            }
            acks
        });
        std::thread::sleep(Duration::from_micros(1_000 + rng.next() % 25_000));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let acks = reader.join().unwrap();
        if status.code().is_some() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("round {round}: child exited by itself ({status}): {err}");
        }
        total_acks += acks.len();
        for &(_, last) in &acks {
            acked_end = acked_end.max(last + 1);
        }
        let e = open_after_children(dir.path());
        if acked_end == 0 && e.topic("t").is_err() {
            // Killed before the child created its topic: nothing to check.
            continue;
        }
        let w = e.partition("t", 0).unwrap().watermarks();
        assert!(
            w.high_watermark >= acked_end,
            "round {round}: acknowledged up to {acked_end} but the log ends at {}",
            w.high_watermark
        );
        let all = read_all(&e, "t", 0, 0);
        assert_eq!(
            all.len() as u64,
            w.high_watermark,
            "round {round}: offsets are dense"
        );
        for (i, (o, v)) in all.iter().enumerate() {
            assert_eq!(*o, i as u64);
            // Every batch has 5 records valued value-0..value-4.
            assert!(
                v.starts_with(b"value-"),
                "round {round}: offset {o} holds {v:?}"
            );
        }
        assert!(e.partition("t", 0).unwrap().verify().unwrap().is_empty());
        // Alternate: half the rounds leave the log as recovery left it (no
        // clean marker, as if this verifier crashed too), half close cleanly.
        if round % 2 == 0 {
            e.close().unwrap();
        } else {
            drop(e);
            let _ = std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE));
        }
    }
    assert!(
        total_acks > iterations,
        "the child acknowledged appends ({total_acks})"
    );
}

#[test]
fn sigkill_with_flush_always_loses_nothing_acknowledged() {
    run_crash("always", 200, 4, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn sigkill_with_flush_none_loses_nothing_acknowledged() {
    run_crash("none", 60, 1, 0x2545_f491_4f6c_dd1d);
}
