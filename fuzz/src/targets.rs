//! The fuzz targets, each with the properties it checks on every input.

use std::path::PathBuf;

use kennel_common::invariants;
use kennel_common::layout::Header;
use kennel_common::notice::{decode_batch, NOTICE_SIZE};
use kennel_common::protocol::{
    parse_message, parse_port_answer, parse_token_line, ControlParser, ControlRequest, Framing,
    MessageProgress, RequestKind, Style, MAX_LINE,
};
use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, Segment, GUARD_TIMEOUT};

use crate::{feature, Target};

/// Every target, by name.
pub fn all() -> Vec<&'static str> {
    vec!["control", "message", "notice", "segment", "submission"]
}

/// Builds the target called `name`.
pub fn by_name(name: &str) -> Result<Box<dyn Target>, String> {
    Ok(match name {
        "control" => Box::new(Control),
        "message" => Box::new(Message),
        "notice" => Box::new(NoticeDecoder),
        "segment" => Box::new(SegmentValidator::new()?),
        "submission" => Box::new(crate::submission::SubmissionDecoder),
        other => {
            return Err(format!(
                "unknown target {other}; known: {}",
                all().join(", ")
            ))
        }
    })
}

fn type_names() -> Vec<Vec<u8>> {
    RequestKind::ALL
        .iter()
        .map(|t| t.name().as_bytes().to_vec())
        .collect()
}

/// The dispatcher's control-line parser, fed in chunks whose sizes come from the input.
///
/// Properties: never buffers more than `MAX_LINE` bytes while waiting; a request reported
/// as known names a type that really is in the input.
pub struct Control;

impl Target for Control {
    fn name(&self) -> &'static str {
        "control"
    }

    fn dictionary(&self) -> Vec<Vec<u8>> {
        let mut d = type_names();
        d.extend([b"\n".to_vec(), b"\r\n".to_vec(), b"requete".to_vec()]);
        d
    }

    fn builtin_seeds(&self) -> Vec<Vec<u8>> {
        vec![
            b"\x03requetetype1".to_vec(),
            b"\x05requetetype2\necho\r\n".to_vec(),
            b"\x01garbage\xff\x00\n".to_vec(),
        ]
    }

    fn run(&mut self, input: &[u8], features: &mut Vec<u64>) {
        let Some((&chunking, data)) = input.split_first() else {
            return;
        };
        let step = 1 + usize::from(chunking) * 17;
        let mut parser = ControlParser::new();
        for chunk in data.chunks(step) {
            parser.push(chunk);
            loop {
                match parser.next_request() {
                    Ok(None) => {
                        assert!(
                            parser.buffered() <= MAX_LINE,
                            "buffered {}",
                            parser.buffered()
                        );
                        features.push(feature("control-wait", (parser.buffered() / 64) as u64));
                        break;
                    }
                    Ok(Some(ControlRequest::Known(t, style))) => {
                        let name = t.name().as_bytes();
                        assert!(
                            data.windows(name.len()).any(|w| w == name),
                            "reported {} absent from the input",
                            t.name()
                        );
                        features.push(feature(
                            "control-known",
                            u64::from(t.code()) * 2 + (style == Style::Line) as u64,
                        ));
                    }
                    Ok(Some(ControlRequest::Unknown(excerpt, _))) => {
                        assert!(excerpt.len() <= 41 * 4 + 3, "excerpt too long");
                        assert!(
                            excerpt.chars().all(|c| !c.is_control()),
                            "unescaped control byte"
                        );
                        features.push(feature("control-unknown", excerpt.len() as u64 / 8));
                    }
                    Err(_) => {
                        features.push(feature("control-too-long", 0));
                        assert_eq!(parser.buffered(), 0, "a refused line is dropped");
                        break;
                    }
                }
            }
        }
    }
}

/// The worker's message framing, token line and the client's port-answer parser.
///
/// Properties: a complete message never exceeds its bound; a `NeedBody` promise is within the
/// limit; a parsed port answer formats back to the same values.
pub struct Message;

impl Target for Message {
    fn name(&self) -> &'static str {
        "message"
    }

    fn dictionary(&self) -> Vec<Vec<u8>> {
        vec![
            b"LEN ".to_vec(),
            b"TOKEN ".to_vec(),
            b"\n".to_vec(),
            b"18446744073709551616".to_vec(),
            b"0123456789abcdef".to_vec(),
        ]
    }

    fn builtin_seeds(&self) -> Vec<Vec<u8>> {
        vec![
            b"\x00\x10LEN 5\nhello".to_vec(),
            b"\x00\x10Hello, what time is it ?".to_vec(),
            b"\x01\x00TOKEN 00000000000000ab\nLEN 2\nhi".to_vec(),
            b"\x00\x00line\r\n".to_vec(),
        ]
    }

    fn run(&mut self, input: &[u8], features: &mut Vec<u64>) {
        if input.len() < 2 {
            return;
        }
        let max = usize::from(u16::from_le_bytes([input[0], input[1]]));
        let data = &input[2..];
        match parse_message(data, max) {
            MessageProgress::Complete(framing, body) => {
                match framing {
                    Framing::Length => assert!(body.len() <= max, "body over the limit"),
                    Framing::Line | Framing::Bare => assert!(body.len() <= MAX_LINE),
                }
                features.push(feature("message-complete", framing as u64));
            }
            MessageProgress::NeedBody {
                header_len,
                body_len,
            } => {
                assert!(body_len <= max, "promised body over the limit");
                assert!(header_len <= data.len() && data.len() < header_len + body_len);
                features.push(feature("message-need-body", 0));
            }
            MessageProgress::NeedHeader => features.push(feature("message-need-header", 0)),
            MessageProgress::Invalid(why) => {
                features.push(feature("message-invalid", why.len() as u64));
            }
        }
        match parse_token_line(data) {
            Some(Ok((_, used))) => {
                assert_eq!(used, 23);
                features.push(feature("token-ok", 0));
            }
            Some(Err(_)) => features.push(feature("token-err", 0)),
            None => features.push(feature("token-wait", 0)),
        }
        let line = String::from_utf8_lossy(data);
        if let Some(a) = parse_port_answer(&line) {
            let mut again = a.port.to_string();
            if let Some(ip) = a.addr {
                again = format!("{ip} {again}");
            }
            if let Some(t) = a.token {
                again = format!("{again} {t:016x}");
            }
            assert_eq!(parse_port_answer(&again), Some(a));
            features.push(feature(
                "port-answer",
                a.token.is_some() as u64 + 2 * a.addr.is_some() as u64,
            ));
        }
    }
}

/// The FIFO notice decoder.
///
/// Properties: every byte is accounted for (decoded or discarded); each decoded notice
/// re-encodes to exactly the bytes it came from.
pub struct NoticeDecoder;

impl Target for NoticeDecoder {
    fn name(&self) -> &'static str {
        "notice"
    }

    fn dictionary(&self) -> Vec<Vec<u8>> {
        vec![
            b"KN\x01\x01".to_vec(),
            b"KN\x01\x02".to_vec(),
            b"KN\x01\x03".to_vec(),
        ]
    }

    fn builtin_seeds(&self) -> Vec<Vec<u8>> {
        let mut two = b"KN\x01\x02\x01\x00\x00\x00\x10\x00\x00\x00\x07\x00\x00\x00".to_vec();
        two.extend_from_slice(b"KN\x01\x03\xff\xff\xff\xff\x10\x00\x00\x00\x07\x00\x00\x00");
        vec![two]
    }

    fn run(&mut self, input: &[u8], features: &mut Vec<u64>) {
        let (notices, discarded) = decode_batch(input);
        assert_eq!(notices.len() * NOTICE_SIZE + discarded, input.len());
        for (i, n) in notices.iter().enumerate() {
            assert_eq!(
                &n.encode()[..],
                &input[i * NOTICE_SIZE..(i + 1) * NOTICE_SIZE]
            );
            features.push(feature("notice-kind", n.kind as u64));
        }
        features.push(feature("notice-count", notices.len().min(8) as u64));
        features.push(feature("notice-discarded", (discarded > 0) as u64));
    }
}

/// The segment validator: each input is written over a real shared-memory segment (with a
/// real semaphore), which is then attached, checked, repaired and checked again.
///
/// Properties: attaching never panics whatever the bytes and size; a segment that attaches
/// yields a snapshot that every reader can render; after `repair_damaged`, no record is torn
/// and none holds an unknown state code, impossible markers or an unknown request type.
pub struct SegmentValidator {
    runtime: RuntimeDir,
    owner: Option<Segment>,
    path: PathBuf,
    seed: Vec<u8>,
}

impl SegmentValidator {
    pub fn new() -> Result<SegmentValidator, String> {
        let dir = std::env::temp_dir().join(format!("kennel-fuzz-{}", std::process::id()));
        let runtime = RuntimeDir::resolve(Some(&dir));
        runtime.create().map_err(|e| e.to_string())?;
        let owner = Segment::create(&runtime, 2, 0).map_err(|e| e.to_string())?;
        let path = PathBuf::from(format!("/dev/shm{}", owner.name()));
        let seed = std::fs::read(&path).map_err(|e| e.to_string())?;
        Ok(SegmentValidator {
            runtime,
            owner: Some(owner),
            path,
            seed,
        })
    }
}

impl Drop for SegmentValidator {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            let _ = owner.destroy(&self.runtime);
        }
        let _ = std::fs::remove_dir(self.runtime.path());
    }
}

impl Target for SegmentValidator {
    fn name(&self) -> &'static str {
        "segment"
    }

    fn dictionary(&self) -> Vec<Vec<u8>> {
        vec![
            vec![0xff; 4],
            vec![0; 8],
            1u32.to_le_bytes().to_vec(),
            3u32.to_le_bytes().to_vec(),
            99u32.to_le_bytes().to_vec(),
        ]
    }

    fn builtin_seeds(&self) -> Vec<Vec<u8>> {
        vec![self.seed.clone()]
    }

    fn run(&mut self, input: &[u8], features: &mut Vec<u64>) {
        // The semaphore id is a fact of this run's environment, not of the input (saved
        // inputs carry the id of the run that found them): in 7 inputs out of 8 it is set to
        // the live semaphore, so that mutations reach the records; the 8th keeps its own and
        // tests the semaphore check.
        let mut image = input.to_vec();
        let at = std::mem::offset_of!(Header, semid);
        let keep_own = crate::fingerprint(input) % 8 == 0;
        if !keep_own && image.len() >= at + 4 {
            let semid = self.owner.as_ref().map_or(-1, |o| o.semid());
            image[at..at + 4].copy_from_slice(&(semid as u32).to_le_bytes());
        }
        // Rewrites the object in place (same inode, same mode): its size becomes the input's.
        std::fs::write(&self.path, &image).expect("rewrite the segment");
        let seg = match Segment::attach(&self.runtime, Access::ReadOnly) {
            Ok(s) => s,
            Err(e) => {
                let kind = e.to_string().split(':').next().unwrap_or("").len() as u64;
                features.push(feature("attach-err", kind));
                return;
            }
        };
        let snap = seg.snapshot();
        for r in &snap.records {
            let _ = (r.display_state(), r.last_exit(), r.fatal_reason(), r.pid());
        }
        for v in invariants::check(&snap) {
            features.push(feature(v.invariant, 0));
        }
        drop(seg);
        let seg = Segment::attach(&self.runtime, Access::ReadWrite).expect("attached read-only");
        {
            let guard = seg.lock(GUARD_TIMEOUT).expect("guard");
            for (_, why) in guard.repair_damaged() {
                features.push(feature(why, 1));
            }
        }
        let after = seg.snapshot();
        for v in invariants::check(&after) {
            assert!(
                !matches!(
                    v.invariant,
                    "torn-record"
                        | "state-code"
                        | "supervision-code"
                        | "ping-pong"
                        | "request-type"
                ),
                "repair left {}: {}",
                v.invariant,
                v.detail
            );
        }
        features.push(feature("attach-ok", after.records.len() as u64));
    }
}
