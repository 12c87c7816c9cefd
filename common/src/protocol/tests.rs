//! The wire protocol's rules, one by one.

use super::*;

fn parse_all(input: &[u8]) -> Vec<Result<Option<ControlRequest>, LineTooLong>> {
    let mut p = ControlParser::new();
    p.push(input);
    let mut out = Vec::new();
    loop {
        let r = p.next_request();
        let stop = matches!(r, Ok(None) | Err(_));
        out.push(r);
        if stop {
            return out;
        }
    }
}

#[test]
fn bare_type_is_complete_without_newline() {
    assert_eq!(
        parse_all(b"requetetype1"),
        vec![
            Ok(Some(ControlRequest::Known(RequestKind::TIME, Style::Bare))),
            Ok(None)
        ]
    );
}

#[test]
fn terminated_types_are_line_style_and_crlf_is_stripped() {
    assert_eq!(
        parse_all(b"requetetype2\r\necho\n"),
        vec![
            Ok(Some(ControlRequest::Known(RequestKind::DATE, Style::Line))),
            Ok(Some(ControlRequest::Known(RequestKind::ECHO, Style::Line))),
            Ok(None)
        ]
    );
}

#[test]
fn prefix_of_a_type_waits_for_more_bytes() {
    let mut p = ControlParser::new();
    p.push(b"requete");
    assert_eq!(p.next_request(), Ok(None));
    assert!(p.has_partial());
    p.push(b"type1");
    assert_eq!(
        p.next_request(),
        Ok(Some(ControlRequest::Known(RequestKind::TIME, Style::Bare)))
    );
    // A newline arriving after a bare request is ignored, not an empty request.
    p.push(b"\n");
    assert_eq!(p.next_request(), Ok(None));
    assert!(!p.has_partial());
}

#[test]
fn unknown_and_garbage_are_reported_at_once_and_escaped() {
    let r = parse_all(b"requetetype9");
    assert_eq!(
        r[0],
        Ok(Some(ControlRequest::Unknown(
            "requetetype9".into(),
            Style::Bare
        )))
    );
    let r = parse_all(b"\xff\x00ab\n");
    assert_eq!(
        r[0],
        Ok(Some(ControlRequest::Unknown(
            "\\xff\\x00ab".into(),
            Style::Line
        )))
    );
}

#[test]
fn overlong_lines_are_refused_with_or_without_newline() {
    assert_eq!(parse_all(&vec![b'r'; MAX_LINE + 1])[0], Err(LineTooLong));
    // Long unterminated junk waits for its newline instead of being answered per chunk.
    assert_eq!(parse_all(&[b'x'; MAX_TYPE_LEN + 1])[0], Ok(None));
    let mut long = vec![b'a'; MAX_LINE + 10];
    long.push(b'\n');
    assert_eq!(parse_all(&long)[0], Err(LineTooLong));
}

#[test]
fn answers_mirror_the_request_style() {
    assert_eq!(port_answer(2223, Style::Bare), b"2223");
    assert_eq!(port_answer(2223, Style::Line), b"2223\n");
    assert_eq!(busy_answer(Style::Bare), b"-1");
    assert_eq!(error_line("x"), b"ERR x\n");
}

#[test]
fn worker_messages_in_all_three_framings() {
    assert_eq!(
        parse_message(b"Hello, what time is it ?", 10),
        MessageProgress::Complete(Framing::Bare, b"Hello, what time is it ?".to_vec())
    );
    assert_eq!(
        parse_message(b"hi\r\n", 10),
        MessageProgress::Complete(Framing::Line, b"hi".to_vec())
    );
    assert_eq!(
        parse_message(b"LEN 3\nabc", 10),
        MessageProgress::Complete(Framing::Length, b"abc".to_vec())
    );
    assert_eq!(
        parse_message(b"LEN 5\nab", 10),
        MessageProgress::NeedBody {
            header_len: 6,
            body_len: 5
        }
    );
    assert_eq!(parse_message(b"LEN 5", 10), MessageProgress::NeedHeader);
    assert!(matches!(
        parse_message(b"LEN 11\n", 10),
        MessageProgress::Invalid(_)
    ));
    assert!(matches!(
        parse_message(b"LEN x\n", 10),
        MessageProgress::Invalid(_)
    ));
    assert!(matches!(
        parse_message(b"LEN -1\n", 10),
        MessageProgress::Invalid(_)
    ));
    assert!(matches!(
        parse_message(b"LEN 99999999999999999999999\n", usize::MAX),
        MessageProgress::Invalid(_)
    ));
}

#[test]
fn framing_round_trips() {
    let req = frame_request(b"payload");
    assert_eq!(
        parse_message(&req, 100),
        MessageProgress::Complete(Framing::Length, b"payload".to_vec())
    );
    assert_eq!(frame_answer(Framing::Line, b"x"), b"x\n");
    assert_eq!(frame_answer(Framing::Bare, b"x"), b"x");
}

#[test]
fn tokens_in_answers_and_lines() {
    assert_eq!(
        port_token_answer(2223, 0xab, Style::Line),
        b"2223 00000000000000ab\n"
    );
    let pa = |addr: Option<&str>, port, token| {
        Some(PortAnswer {
            addr: addr.map(|a| a.parse().unwrap()),
            port,
            token,
        })
    };
    assert_eq!(parse_port_answer("2223"), pa(None, 2223, None));
    assert_eq!(
        parse_port_answer("2223 00000000000000ab"),
        pa(None, 2223, Some(0xab))
    );
    assert_eq!(
        parse_port_answer("10.0.0.7 2223"),
        pa(Some("10.0.0.7"), 2223, None)
    );
    assert_eq!(
        parse_port_answer("::1 2223 00000000000000ab"),
        pa(Some("::1"), 2223, Some(0xab))
    );
    assert_eq!(parse_port_answer("0"), None);
    assert_eq!(parse_port_answer("2223 xyz"), None);
    assert_eq!(parse_port_answer("2223 00000000000000ab 1"), None);
    assert_eq!(parse_port_answer("10.0.0.300 2223"), None);
    assert_eq!(parse_port_answer("10.0.0.7"), None);
    let mut line = token_line(0xdead_beef);
    line.extend_from_slice(b"LEN 2\nhi");
    assert_eq!(parse_token_line(&line), Some(Ok((0xdead_beef, 23))));
    assert_eq!(parse_token_line(b"TOK"), None);
    assert!(matches!(parse_token_line(b"hello"), Some(Err(_))));
    assert!(matches!(
        parse_token_line(b"TOKEN zzzzzzzzzzzzzzzz\n"),
        Some(Err(_))
    ));
}

#[test]
fn request_type_codes_round_trip() {
    for t in RequestKind::ALL {
        assert_eq!(RequestKind::from_code(t.code()), Some(t));
        assert_eq!(RequestKind::from_name(t.name().as_bytes()), Some(t));
    }
    assert_eq!(RequestKind::from_code(0), None);
}

#[test]
fn worker_answers_name_the_port_the_token_and_the_address_when_asked() {
    let ip: std::net::IpAddr = "10.0.0.2".parse().unwrap();
    assert_eq!(worker_answer(2223, 0, Style::Bare.into()), b"2223");
    assert_eq!(
        worker_answer(2223, 0xab, Style::Line.into()),
        b"2223 00000000000000ab\n"
    );
    let a = AnswerStyle {
        framing: Style::Line,
        addr: Some(ip),
    };
    assert_eq!(worker_answer(2223, 0, a), b"10.0.0.2 2223\n");
    assert_eq!(
        worker_answer(2223, 0, Style::Bare.into()),
        port_answer(2223, Style::Bare)
    );
}
