//! What a runner says about itself: the languages it offers (the slot's word), one line for
//! the log, and why a language is unavailable.

use crate::language::Language;
use crate::runner::Runner;

impl Runner {
    /// The `languages` word for the slot.
    pub fn offer_bits(&self) -> u32 {
        Language::ALL
            .into_iter()
            .filter(|l| self.offers(*l))
            .map(Language::bit)
            .sum()
    }

    /// One line for the log: what this runner can do and with which protections.
    pub fn describe(&self) -> String {
        let langs: Vec<&str> = Language::ALL
            .into_iter()
            .filter(|l| self.offers(*l))
            .map(Language::name)
            .collect();
        let mode = self.limits_mode();
        format!(
            "program runner: languages [{}], sandbox {} with a seccomp filter, limits {} ({}), runs as {}",
            langs.join(", "),
            if self.pool.maker().bwrap.is_some() {
                "bubblewrap"
            } else {
                "MISSING (install bubblewrap)"
            },
            mode.describe(),
            mode.exactness(),
            match self.pool.maker().drop_to {
                Some((u, _)) => format!("uid {u}"),
                None => "this user, in a user namespace".into(),
            }
        )
    }

    pub(crate) fn missing(&self, lang: Language) -> &'static str {
        if self.pool.maker().bwrap.is_none() {
            "bubblewrap is not installed"
        } else if !self.pool.maker().helper.is_file() {
            "kennel-run is missing next to the worker"
        } else {
            match lang {
                Language::Python => "no /usr/bin/python3",
                Language::C => "no /usr/bin/gcc",
                Language::Cpp => "no /usr/bin/g++",
                Language::Java => "no /usr/bin/javac and /usr/bin/java",
            }
        }
    }
}
