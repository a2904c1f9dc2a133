# Helpers shared by the .ci scripts. Sourced, not run.

ci_log() {
    # stderr, so that commands whose stdout is captured (".ci/es start") stay clean
    printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${CI_SCRIPT:-ci}" "$*" >&2
}

ci_die() {
    ci_log "error: $*"
    exit 1
}

# Install the named Debian packages that are not installed yet. A fresh CI machine may lack
# some; on a machine that has them all this costs one dpkg query per package.
ci_ensure_debian_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        ci_die "missing Debian packages: ${missing[*]} (install them, or run as root)"
    fi
    ci_log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}
