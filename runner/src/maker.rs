//! What making a sandbox takes (bwrap, `kennel-run`, the cgroups, the warm toolchain
//! directory), shared by the runner (a sandbox made on demand) and the pool's thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use crate::cgroup::{Cgroups, Place, RunCgroup, RunLimits};
use crate::language::Toolchains;
use crate::prefork::Sandbox;
use crate::sandbox::{etc_paths, standby_args, Shape};
use crate::warm::Warm;
use crate::zygote::{Recipe, Zygote};

/// Everything making a sandbox takes; shared by the runner and the pool's thread.
#[derive(Debug)]
pub struct Maker {
    pub bwrap: Option<PathBuf>,
    pub helper: PathBuf,
    pub drop_to: Option<(u32, u32)>,
    pub tools: Toolchains,
    /// The warm toolchain files, where a directory for them could be had.
    pub warm: Option<Warm>,
    place: Place,
    /// Set up on first use (after the worker is ready: a restart is not slowed by it).
    cgroups: OnceLock<Option<Cgroups>>,
    etc: OnceLock<Vec<String>>,
    made: AtomicU64,
}

impl Maker {
    pub fn new(
        bwrap: Option<PathBuf>,
        helper: PathBuf,
        drop_to: Option<(u32, u32)>,
        place: Place,
        tools: Toolchains,
        warm: Option<Warm>,
    ) -> Maker {
        Maker {
            bwrap,
            helper,
            drop_to,
            tools,
            warm,
            place,
            cgroups: OnceLock::new(),
            etc: OnceLock::new(),
            made: AtomicU64::new(0),
        }
    }

    /// The runner's cgroups, set up at the first call.
    pub fn cgroups(&self) -> Option<&Cgroups> {
        self.cgroups
            .get_or_init(|| Cgroups::setup(&self.place))
            .as_ref()
    }

    /// The cgroups if set up already (without setting them up).
    pub fn cgroups_made(&self) -> Option<Option<&Cgroups>> {
        self.cgroups.get().map(Option::as_ref)
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    /// A new sandbox of `shape` ready for a run, the run's cgroup (where cgroups are usable)
    /// set to `limits`.
    pub fn make(&self, shape: Shape, limits: &RunLimits) -> Result<Sandbox, String> {
        let bwrap = self.bwrap.as_deref().ok_or("bubblewrap is not installed")?;
        let warm = self.warm.as_ref().and_then(|w| match w.fd() {
            Ok(fd) => Some(fd),
            Err(e) => {
                log::warn!("the warm toolchain directory: {e}");
                None
            }
        });
        let recipe = Recipe {
            bwrap,
            helper: &self.helper,
            args: standby_args(shape, self.etc.get_or_init(etc_paths), warm.is_some()),
            cgroup: self.run_cgroup(limits)?,
            drop_to: self.drop_to,
            warm,
        };
        let zygote = Zygote::make(recipe, shape).map_err(|(why, cgroup)| {
            if let Some(c) = cgroup {
                c.remove();
            }
            why
        })?;
        self.arm(zygote, None, limits)
    }

    /// `zygote`, new or back from a run, ready for another: the next run's init in the run's
    /// cgroup — `kept` from the sandbox's last run (with the limits it holds) where that one
    /// may serve again, else a new one.
    pub fn arm(
        &self,
        zygote: Zygote,
        kept: Option<(RunCgroup, RunLimits)>,
        limits: &RunLimits,
    ) -> Result<Sandbox, String> {
        let cgroup = match kept {
            Some((c, held)) => match c.set_limits(&held, limits) {
                Ok(()) => Ok(Some(c)),
                Err(e) => {
                    c.remove();
                    Err(format!("cgroup: {e}"))
                }
            },
            None => self.run_cgroup(limits),
        };
        let mut cgroup = match cgroup {
            Ok(c) => c.map(|c| (c, *limits)),
            Err(e) => {
                zygote.end();
                return Err(e);
            }
        };
        let mut zygote = zygote;
        match zygote.next_init(cgroup.as_mut().map(|(c, _)| c)) {
            Ok(init) => Ok(Sandbox::new(zygote, init, cgroup)),
            Err(why) => {
                // The init may not be gone yet: the sandbox first, then its cgroup.
                zygote.end();
                cgroup.into_iter().for_each(|(c, _)| c.remove());
                Err(why)
            }
        }
    }

    /// A new cgroup (a sandbox's or a run's) with `limits` written; `None` without cgroups.
    fn run_cgroup(&self, limits: &RunLimits) -> Result<Option<RunCgroup>, String> {
        let Some(c) = self.cgroups() else {
            return Ok(None);
        };
        let n = self.made.fetch_add(1, Relaxed);
        c.create_run(n, limits)
            .map(Some)
            .map_err(|e| format!("cgroup: {e}"))
    }
}
