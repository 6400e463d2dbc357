#!/usr/bin/env bash
# build-images.sh builds Krellin's capsule images on this machine.
#
# No container registry is reachable here, so nothing is pulled: each base
# image is a root filesystem made from Debian packages and loaded with
# `docker import`, and the dev image is a `docker build` on top of that.
# See DEVELOPERS.md, section "Images".
#
# Usage: scripts/build-images.sh [busybox|debian|dev|all]   (default: all)
#
# Environment:
#   FORCE=1        rebuild the named images even if they exist
#   VERBOSE=1      stream debootstrap and docker build output
#   DEBIAN_MIRROR  Debian mirror for debootstrap and apt
#                  (default http://deb.debian.org/debian)
#   DEBIAN_SECURITY_MIRROR  where apt in the images finds security fixes
#                  (default: DEBIAN_MIRROR's host, /debian-security)
set -euo pipefail

readonly BUSYBOX_IMAGE=krellin/busybox:1
readonly DEBIAN_IMAGE=krellin/debian:bookworm
readonly DEV_IMAGE=krellin/dev:1
readonly SUITE=bookworm

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
FORCE=${FORCE:-0}
VERBOSE=${VERBOSE:-0}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-${DEBIAN_MIRROR%/debian}/debian-security}

# The legacy builder works against Debian's docker.io 20.10 without the
# buildx plugin, which a newer docker client would otherwise ask for.
export DOCKER_BUILDKIT=0

WORK=""
APT_UPDATED=0
BUILT=()

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

usage() {
	cat <<'EOF'
Usage: scripts/build-images.sh [busybox|debian|dev|all]

Builds Krellin's capsule images locally (no registry is used):
  busybox  krellin/busybox:1        static busybox, for tests (seconds)
  debian   krellin/debian:bookworm  debootstrap minbase (minutes)
  dev      krellin/dev:1            debian + git, make and the host's Go
  all      all of the above (default)

Existing images are kept; set FORCE=1 to rebuild the ones named.
A missing base image is built whatever FORCE says.
EOF
}

# cleanup unmounts whatever a failed debootstrap left mounted inside the
# work directory before removing it, so rm never walks into /proc or /sys.
cleanup() {
	[[ -n $WORK && -d $WORK ]] || return 0
	local mnt
	awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r mnt; do
		umount -l "$mnt" 2>/dev/null || true
	done
	rm -rf --one-file-system "$WORK"
}

# run_logged NAME CMD... runs CMD quietly, keeping its output in a log
# that is shown (the tail of it) only when CMD fails.
run_logged() {
	local name=$1
	shift
	if [[ $VERBOSE == 1 ]]; then
		"$@"
		return
	fi
	local logfile="$WORK/$name.log"
	if ! "$@" >"$logfile" 2>&1; then
		printf -- '--- last lines of %s output ---\n' "$name" >&2
		tail -n 40 "$logfile" >&2
		printf -- '---\n' >&2
		return 1
	fi
}

# apt_install PKG... installs the Debian packages that are missing.
apt_install() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$pkg")
	done
	((${#missing[@]} > 0)) || return 0

	if ((EUID != 0)); then
		die "missing packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}"
	fi
	log "installing ${missing[*]} with apt-get"
	if ((APT_UPDATED == 0)); then
		run_logged apt-update apt-get update
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive run_logged apt-install \
		apt-get install -y --no-install-recommends "${missing[@]}"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null; }

# ensure_image IMAGE FORCE BUILDER builds IMAGE with the function BUILDER
# unless it exists and FORCE is not 1.
ensure_image() {
	local image=$1 force=$2 builder=$3
	if image_exists "$image" && [[ $force != 1 ]]; then
		log "$image exists, skipping (FORCE=1 rebuilds it)"
		BUILT+=("$image")
		return 0
	fi

	log "building $image"
	local start=$SECONDS
	"$builder" "$image"
	log "built $image in $((SECONDS - start))s"
	BUILT+=("$image")
}

# docker_import ROOTFS IMAGE CHANGE... loads a directory as an image. Owners
# are written as root whoever runs this, and /dev is left for Docker.
docker_import() {
	local rootfs=$1 image=$2
	shift 2
	local changes=() c
	for c in "$@"; do
		changes+=(--change "$c")
	done
	tar -C "$rootfs" --numeric-owner --owner=0 --group=0 \
		--anchored --exclude='./dev/*' -cf - . |
		docker import "${changes[@]}" \
			--message "built by scripts/build-images.sh" - "$image" >/dev/null
}

build_busybox() {
	local image=$1
	local bb=/bin/busybox
	apt_install busybox-static
	# The busybox package (dynamic) also installs /bin/busybox and would be
	# useless in an image without a libc.
	if ldd "$bb" >/dev/null 2>&1; then
		die "$bb is dynamically linked; install busybox-static"
	fi

	local root="$WORK/busybox-rootfs"
	mkdir -p "$root"/{bin,etc/ssl/certs,root,tmp,workspace,usr/bin,usr/local/bin}
	install -m 0755 "$bb" "$root/bin/busybox"

	local applet
	"$bb" --list | while read -r applet; do
		[[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
	done
	# Many scripts start with #!/usr/bin/env.
	ln -s /bin/busybox "$root/usr/bin/env"

	install -m 0644 "$REPO_ROOT/images/busybox/passwd" "$root/etc/passwd"
	install -m 0644 "$REPO_ROOT/images/busybox/group" "$root/etc/group"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	chmod 0755 "$root/workspace"

	docker_import "$root" "$image" \
		'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
		'LABEL krellin.image=busybox' \
		'CMD ["/bin/sh"]'
}

build_debian() {
	local image=$1
	((EUID == 0)) || die "debootstrap needs root; run this as root"
	apt_install debootstrap

	local root="$WORK/debian-rootfs"
	log "running debootstrap --variant=minbase $SUITE (takes a few minutes)"
	run_logged debootstrap \
		debootstrap --variant=minbase "$SUITE" "$root" "$DEBIAN_MIRROR"

	# Let apt in derived images see point updates and security fixes.
	cat >"$root/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR $SUITE main
deb $DEBIAN_MIRROR $SUITE-updates main
deb $DEBIAN_SECURITY_MIRROR $SUITE-security main
EOF
	cat >"$root/etc/apt/apt.conf.d/90krellin" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF

	# Keep the image small and free of this host's settings; Docker
	# provides hosts, hostname and resolv.conf at run time.
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/apt/archives/*.deb "$root"/var/log/* \
		"$root"/etc/hostname "$root"/etc/resolv.conf "$root"/etc/hosts
	mkdir -p "$root/var/lib/apt/lists/partial" "$root/workspace"

	docker_import "$root" "$image" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'LABEL krellin.image=debian' \
		'CMD ["/bin/bash"]'
}

# host_go prints the go command to copy the toolchain from.
host_go() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [[ -x /usr/local/go/bin/go ]]; then
		echo /usr/local/go/bin/go
	else
		die "go not found; the dev image copies the host's Go toolchain"
	fi
}

host_go_version() {
	local go
	go=$(host_go)
	"$go" env GOVERSION
}

build_dev() {
	local image=$1
	local go goroot version
	go=$(host_go)
	goroot=$("$go" env GOROOT)
	version=$("$go" env GOVERSION)

	# The context is assembled in the work directory so that only the
	# Dockerfile and the toolchain are sent to the daemon. The toolchain's
	# own tests and test data are left out: `go test` on user code does
	# not read them.
	local ctx="$WORK/dev-context"
	mkdir -p "$ctx/go"
	cp "$REPO_ROOT/images/dev/Dockerfile" "$ctx/Dockerfile"
	log "copying $version from $goroot"
	tar -C "$goroot" --anchored --exclude=./test \
		--no-anchored --exclude=testdata -cf - . |
		tar -C "$ctx/go" -xf -

	# FORCE=1 also skips Docker's layer cache, so apt fetches fresh
	# packages instead of reusing the layer from the last build.
	local cache=()
	[[ $FORCE != 1 ]] || cache=(--no-cache)
	run_logged docker-build \
		docker build --force-rm "${cache[@]}" \
		--build-arg "GO_VERSION=$version" -t "$image" "$ctx"
}

# warn_stale_dev says when krellin/dev:1 holds another Go than the host's.
warn_stale_dev() {
	local have want
	have=$(docker image inspect \
		-f '{{index .Config.Labels "krellin.go.version"}}' "$DEV_IMAGE")
	want=$(host_go_version)
	if [[ $have != "$want" ]]; then
		warn "$DEV_IMAGE has $have, the host has $want; FORCE=1 rebuilds it"
	fi
}

print_summary() {
	local image id size
	echo
	printf '%-26s %-73s %s\n' IMAGE ID SIZE
	for image in "${BUILT[@]}"; do
		id=$(image_id "$image")
		size=$(docker image ls --format '{{.Size}}' "$image")
		printf '%-26s %-73s %s\n' "$image" "$id" "$size"
	done
}

main() {
	local target=${1:-all}
	case $target in
	-h | --help)
		usage
		return 0
		;;
	busybox | debian | dev | all) ;;
	*)
		usage >&2
		return 2
		;;
	esac
	(($# <= 1)) || {
		usage >&2
		return 2
	}

	docker version >/dev/null 2>&1 ||
		die "the Docker engine does not answer; start dockerd (see DEVELOPERS.md, CI)"

	WORK=$(mktemp -d "${TMPDIR:-/tmp}/krellin-images.XXXXXX")
	trap cleanup EXIT

	case $target in
	busybox)
		ensure_image "$BUSYBOX_IMAGE" "$FORCE" build_busybox
		;;
	debian)
		ensure_image "$DEBIAN_IMAGE" "$FORCE" build_debian
		;;
	dev)
		ensure_image "$DEBIAN_IMAGE" 0 build_debian
		ensure_image "$DEV_IMAGE" "$FORCE" build_dev
		;;
	all)
		ensure_image "$BUSYBOX_IMAGE" "$FORCE" build_busybox
		ensure_image "$DEBIAN_IMAGE" "$FORCE" build_debian
		ensure_image "$DEV_IMAGE" "$FORCE" build_dev
		;;
	esac

	if [[ $target == dev || $target == all ]]; then
		warn_stale_dev
	fi
	# A rebuild leaves the old image untagged; drop such leftovers of ours.
	docker image prune -f --filter label=krellin.image >/dev/null
	print_summary
}

main "$@"
