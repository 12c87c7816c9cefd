# Sourced by run.sh, test.sh and bench.sh: what the program runner needs from the system —
# bubblewrap (the sandbox) and the toolchains of its languages — installed from Debian's
# packages when missing and we are root (one `apt-get update` first). As an ordinary user it
# only says what is missing: those languages then answer "language unavailable".

# Prints the Debian packages missing for the program runner (none: empty).
kennel_missing_packages() {
  local missing=()
  [ -x /usr/bin/bwrap ] || missing+=(bubblewrap)
  [ -x /usr/bin/python3 ] || missing+=(python3)
  [ -x /usr/bin/gcc ] || missing+=(gcc)
  [ -x /usr/bin/g++ ] || missing+=(g++)
  { [ -x /usr/bin/javac ] && [ -x /usr/bin/java ]; } || missing+=(default-jdk-headless)
  echo "${missing[*]}"
}

kennel_ensure_packages() {
  local missing
  missing=$(kennel_missing_packages)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing $missing (the program runner's sandbox and toolchains)" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
      >/dev/null || echo "deps: installing $missing failed" >&2
  else
    echo "deps: missing $missing (as root: apt-get install $missing); the program runner" \
      "will answer 'language unavailable' for what they provide" >&2
  fi
}
