//! What a worker answers for each built-in request type (time, date, echo); the program
//! runner's languages are served by `run.rs`.

use std::borrow::Cow;

use kennel_common::protocol::Service;

use kennel_common::calendar::now_utc;

/// The answer body for `request` with the client's `payload` (an echo borrows it: no copy).
pub fn answer(service: Service, payload: &[u8]) -> Cow<'_, [u8]> {
    match service {
        Service::Time => {
            let t = now_utc();
            Cow::Owned(format!("{:02}:{:02}:{:02} UTC", t.hour, t.minute, t.second).into_bytes())
        }
        Service::Date => {
            let t = now_utc();
            Cow::Owned(format!("{:04}-{:02}-{:02}", t.year, t.month, t.day).into_bytes())
        }
        Service::Echo => Cow::Borrowed(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_date_have_their_shapes_and_echo_is_exact() {
        let t = String::from_utf8(answer(Service::Time, b"").into_owned()).unwrap();
        assert_eq!(t.len(), "12:34:56 UTC".len(), "{t}");
        assert_eq!(&t[2..3], ":");
        let d = String::from_utf8(answer(Service::Date, b"").into_owned()).unwrap();
        assert_eq!(d.len(), "2026-11-22".len(), "{d}");
        assert!(d.starts_with("20"));
        let bin = [0u8, 255, 10, 13];
        assert_eq!(&answer(Service::Echo, &bin)[..], &bin[..]);
    }
}
