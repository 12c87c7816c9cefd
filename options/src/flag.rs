//! One definition per flag. An option group is written once, with `option_group!`: the clap
//! attributes give its name, default, parser and help (so the command line, `--help`, the man
//! page, the completions and the configuration file's keys all come from it), and a bracketed
//! class before each field says what a reload does when it changes. From that one definition
//! the macro derives the way back to argv (`Group::to_args`, what the watchdog hands a child)
//! and the comparison a reload needs (`Group::changes`, `Group::keep_from`): no flag name is
//! written a second time anywhere.
//!
//! A value type says how it is written back by implementing `ArgValue`; the long name comes
//! from clap itself, so `#[arg(long = "type-alias")]` on a field named `type_aliases` is
//! written back as `--type-alias`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// What a reload (`kennelctl reload`, SIGHUP) does about a flag whose value changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// A running instance cannot change it (ports, addresses, slot count, runtime directory):
    /// the old value stays, and the reload says it needs a new instance.
    Keep,
    /// The watchdog puts it in force at once.
    Live,
    /// Restart the process this group is handed to: decided where the group is flattened.
    Child,
    /// Restart the dispatcher.
    Dispatcher,
    /// Restart the workers, one at a time (and the gateway, which checks their limits).
    Workers,
    /// Restart the HTTP gateway.
    Gateway,
}

impl Reload {
    /// A field's class inside a group flattened with class `outer`.
    pub fn within(self, outer: Reload) -> Reload {
        match self {
            Reload::Child => outer,
            other => other,
        }
    }
}

/// A flag whose value differs between two readings of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The long flag's name, without `--`.
    pub flag: &'static str,
    pub reload: Reload,
}

/// A value that writes itself back as the flag that parses to it.
pub trait ArgValue: PartialEq + Clone {
    /// Appends `--long VALUE` as often as the value needs: once for a plain value, once per
    /// element of a list, not at all for an absent option or a false switch. A flattened group
    /// ignores `long` and appends its own flags.
    fn push_args(&self, long: &'static str, out: &mut Vec<String>);

    /// Appends the changes from `old` (a group: one per changed flag of its own).
    fn diff(&self, old: &Self, long: &'static str, reload: Reload, out: &mut Vec<Change>) {
        if self != old {
            out.push(Change { flag: long, reload });
        }
    }

    /// Puts `old` back where the change needs a new instance, naming the flag in `kept`.
    fn keep(
        &mut self,
        old: &Self,
        long: &'static str,
        reload: Reload,
        kept: &mut Vec<&'static str>,
    ) {
        if reload == Reload::Keep && self != old {
            *self = old.clone();
            kept.push(long);
        }
    }
}

/// An option group: a clap `Args` written with `option_group!`.
pub trait Group: ArgValue + clap::Args {
    /// The group's flags as argv, parsed back by the same definition to an equal value.
    fn to_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        self.push_args("", &mut v);
        v
    }

    /// Every flag that differs from `old`, with its reload class.
    fn changes(&self, old: &Self) -> Vec<Change> {
        let mut v = Vec::new();
        self.diff(old, "", Reload::Child, &mut v);
        v
    }

    /// Puts back every `Keep` flag that changed; returns their names.
    fn keep_from(&mut self, old: &Self) -> Vec<&'static str> {
        let mut v = Vec::new();
        self.keep(old, "", Reload::Child, &mut v);
        v
    }

    /// The group with every default, as a command line without its flags gives it.
    fn defaults() -> Self
    where
        Self: clap::FromArgMatches,
    {
        let cmd = Self::augment_args(clap::Command::new("defaults"));
        let m = cmd.get_matches_from(["defaults"]);
        Self::from_arg_matches(&m).expect("a group's defaults parse")
    }
}

/// The long names of a group's own flags, by field name (clap's id); computed once per group
/// and kept in that group's static, which lends them out for the program's life.
pub fn long_names<G: clap::Args>() -> Vec<(String, String)> {
    G::augment_args(clap::Command::new("g"))
        .get_arguments()
        .filter_map(|a| Some((a.get_id().as_str().to_string(), a.get_long()?.to_string())))
        .collect()
}

/// Defines an option group: a struct whose every field carries its clap attributes and,
/// in brackets, its reload class (`[Keep]`, `[Live]`, `[Child]`, `[Dispatcher]`, `[Workers]`,
/// `[Gateway]`). A `#[command(flatten)]` field is a group in turn; its own `[Child]` fields
/// take the class written at the flatten.
#[macro_export]
macro_rules! option_group {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                [$class:ident] pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            fn long_of(field: &str) -> &'static str {
                static LONGS: std::sync::OnceLock<Vec<(String, String)>> =
                    std::sync::OnceLock::new();
                LONGS
                    .get_or_init($crate::flag::long_names::<$name>)
                    .iter()
                    .find(|(id, _)| id == field)
                    .map_or("", |(_, long)| long.as_str())
            }
        }

        impl $crate::flag::ArgValue for $name {
            fn push_args(&self, _long: &'static str, out: &mut Vec<String>) {
                $( $crate::flag::ArgValue::push_args(
                    &self.$field, Self::long_of(stringify!($field)), out); )*
            }
            fn diff(
                &self,
                old: &Self,
                _long: &'static str,
                reload: $crate::flag::Reload,
                out: &mut Vec<$crate::flag::Change>,
            ) {
                $( $crate::flag::ArgValue::diff(
                    &self.$field,
                    &old.$field,
                    Self::long_of(stringify!($field)),
                    $crate::flag::Reload::$class.within(reload),
                    out,
                ); )*
            }
            fn keep(
                &mut self,
                old: &Self,
                _long: &'static str,
                reload: $crate::flag::Reload,
                kept: &mut Vec<&'static str>,
            ) {
                $( $crate::flag::ArgValue::keep(
                    &mut self.$field,
                    &old.$field,
                    Self::long_of(stringify!($field)),
                    $crate::flag::Reload::$class.within(reload),
                    kept,
                ); )*
            }
        }

        impl $crate::flag::Group for $name {}
    };
}

/// Values written back with `Display`, which their parser reads again exactly.
macro_rules! display_values {
    ($($t:ty),*) => {$(
        impl ArgValue for $t {
            fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
                out.push(format!("--{long}"));
                out.push(self.to_string());
            }
        }
    )*};
}
display_values!(u16, u32, u64, usize, i32, String, IpAddr, SocketAddr);

/// Value enums written back as the name clap parses.
#[macro_export]
macro_rules! value_enum_arg {
    ($($t:ty),*) => {$(
        impl $crate::flag::ArgValue for $t {
            fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
                let v = clap::ValueEnum::to_possible_value(self).expect("no skipped values");
                out.push(format!("--{long}"));
                out.push(v.get_name().to_string());
            }
        }
    )*};
}

impl ArgValue for bool {
    fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
        if *self {
            out.push(format!("--{long}"));
        }
    }
}

impl ArgValue for PathBuf {
    fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
        out.push(format!("--{long}"));
        out.push(self.display().to_string());
    }
}

impl ArgValue for Duration {
    fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
        out.push(format!("--{long}"));
        out.push(duration_arg(*self));
    }
}

impl<T: ArgValue> ArgValue for Option<T> {
    fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
        if let Some(v) = self {
            v.push_args(long, out);
        }
    }
}

impl<T: ArgValue> ArgValue for Vec<T> {
    fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
        for v in self {
            v.push_args(long, out);
        }
    }
}

/// A duration as a flag value that `kennel_common::duration::parse_duration` reads back
/// exactly (to the millisecond, the finest unit a flag takes).
pub fn duration_arg(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kennel_common::duration::parse_duration;

    #[test]
    fn durations_round_trip_through_argv() {
        for ms in [0, 1, 250, 2000, 86_400_000] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&duration_arg(d)), Ok(d));
        }
    }
}
