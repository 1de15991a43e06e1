# Sourced by the *-deps.sh scripts: `apt_install "<what it is for>" "<what happens without it>" packages...`
# installs Debian packages as root, or through sudo; without either it says what is missing and goes on.
apt_install() {
  local purpose="$1" without="$2"; shift 2
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    echo "$* missing and we are not root: $without (apt-get install $*)" >&2
    return 0
  fi
  echo "Installing Debian's $* $purpose..."
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
