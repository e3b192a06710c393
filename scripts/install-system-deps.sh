#!/usr/bin/env bash
# Debian packages the tests need: bubblewrap and libseccomp2 (the grading sandbox and its kernels'
# system-call filter), chromium and its driver
# (the reader's edition browser test), git and unzip (test_lateness copies submissions with them),
# postgresql (the gradebook tests start a throw-away server of their own: its initdb and postgres,
# which Debian keeps in /usr/lib/postgresql/<version>/bin).
# Installs them when missing and this user may; otherwise says what is missing and lets the tests
# that need them report it.
set -u
needed=()
command -v bwrap >/dev/null || needed+=(bubblewrap)
compgen -G "/usr/lib/*/libseccomp.so.2" >/dev/null || needed+=(libseccomp2)
command -v chromium >/dev/null || needed+=(chromium)
command -v chromedriver >/dev/null || needed+=(chromium-driver)
command -v git >/dev/null || needed+=(git)
command -v unzip >/dev/null || needed+=(unzip)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || needed+=(postgresql)
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${needed[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
else
  echo "Missing Debian packages: ${needed[*]}. Install them with: sudo apt-get install ${needed[*]}" >&2
fi
