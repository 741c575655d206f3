#!/usr/bin/env bash
# Test images for the Docker (and Podman) runtimes, built from Debian packages (no outside registry is
# reachable) and served by a registry of our own on loopback, which the engines use as Docker Hub's mirror.
# So manifests stay unchanged (`image: nginx`) and the engines' real pull path runs.
#
#   scripts/test-images.sh engines   start the registries (Docker Hub's mirror, and one with a password
#                                    for imagePullSecrets), dockerd and Podman's REST service, if not running
#   scripts/test-images.sh images    build and push nginx, busybox, alpine/git and pause (cached)
#   scripts/test-images.sh all       both (what .ci/run calls)
#
# Cache: the registry's storage and the rootfs tarballs live under $SKIFF_IMAGES_DIR (default
# /var/cache/skiff-images); an image already in the registry is not built again.
# Needs root, and the Debian packages docker.io, docker-registry, mmdebstrap, busybox-static, and for
# Podman podman, runc and catatonit (Podman builds its pods' infra image from catatonit).
set -euo pipefail

DIR="${SKIFF_IMAGES_DIR:-/var/cache/skiff-images}"
REGISTRY="127.0.0.1:5000"
# A second registry that wants a password (htpasswd), for the imagePullSecrets tests; it holds
# private/busybox. The credentials are the tests' (tests/engines.rs), not a secret.
AUTH_REGISTRY="127.0.0.1:5001"
AUTH_USER="skiff"
AUTH_PASSWORD="pull-secret-test"
mkdir -p "$DIR"

log() { printf '  [images] %s\n' "$*"; }

wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

start_registry() {
  if curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; then return; fi
  cat >"$DIR/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $DIR/registry
http:
  addr: $REGISTRY
YAML
  pkill -f "docker-registry serve $DIR/registry.yml" >/dev/null 2>&1 || true
  nohup docker-registry serve "$DIR/registry.yml" >"$DIR/registry.log" 2>&1 &
  wait_for 20 curl -fsS "http://$REGISTRY/v2/" || { cat "$DIR/registry.log" >&2; exit 1; }
  log "registry on $REGISTRY"
}

start_auth_registry() {
  # 401 without credentials: it is up.
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$AUTH_REGISTRY/v2/")" = 401 ]; then return; fi
  # bcrypt, which the registry's htpasswd wants (glibc's crypt has it on Debian 12).
  python3 -W ignore -c "import crypt, sys; print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))" \
    "$AUTH_USER" "$AUTH_PASSWORD" >"$DIR/htpasswd"
  cat >"$DIR/auth-registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $DIR/auth-registry
http:
  addr: $AUTH_REGISTRY
auth:
  htpasswd:
    realm: skiff-test
    path: $DIR/htpasswd
YAML
  pkill -f "docker-registry serve $DIR/auth-registry.yml" >/dev/null 2>&1 || true
  nohup docker-registry serve "$DIR/auth-registry.yml" >"$DIR/auth-registry.log" 2>&1 &
  wait_for 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$AUTH_REGISTRY/v2/)\" = 401 ]" \
    || { cat "$DIR/auth-registry.log" >&2; exit 1; }
  log "registry with a password on $AUTH_REGISTRY"
}

start_dockerd() {
  mkdir -p /etc/docker
  local want='{"registry-mirrors": ["http://'"$REGISTRY"'"]}'
  if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$want" ]; then
    echo "$want" >/etc/docker/daemon.json
    pkill -x dockerd >/dev/null 2>&1 || true
    sleep 1
  fi
  if docker info >/dev/null 2>&1; then return; fi
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  wait_for 60 docker info || { tail -20 /var/log/dockerd.log >&2; exit 1; }
  log "dockerd $(docker version --format '{{.Server.Version}}')"
}

# Podman 4.3 on these machines (engines.md): runc, since crun refuses hybrid cgroups; cgroupfs, as there
# is no systemd; rlimits within the machine's hard limits. Drop-in files, so a user's own
# containers.conf and registries.conf are left alone.
PODMAN_SOCK=/run/podman/podman.sock
start_podman() {
  command -v podman >/dev/null 2>&1 || { log "podman not installed: skipped"; return; }
  mkdir -p /etc/containers/containers.conf.d /etc/containers/registries.conf.d /run/podman
  cat >/etc/containers/containers.conf.d/50-skiff.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  cat >/etc/containers/registries.conf.d/50-skiff-mirror.conf <<CONF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "$REGISTRY"
insecure = true
[[registry]]
location = "$REGISTRY"
insecure = true
[[registry]]
location = "$AUTH_REGISTRY"
insecure = true
CONF
  if curl -fsS --unix-socket "$PODMAN_SOCK" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; then return; fi
  rm -f "$PODMAN_SOCK"
  nohup podman system service --time=0 "unix://$PODMAN_SOCK" >/var/log/podman-service.log 2>&1 &
  wait_for 30 curl -fsS --unix-socket "$PODMAN_SOCK" http://d/v4.0.0/libpod/_ping \
    || { tail -20 /var/log/podman-service.log >&2; exit 1; }
  log "podman $(podman version --format '{{.Server.Version}}' 2>/dev/null || podman --version)"
}

in_registry() { # in_registry NAME TAG
  curl -fsS -o /dev/null "http://$REGISTRY/v2/$1/manifests/$2" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json'
}

push() { # push TARBALL NAME [--change ...]: import, tag into the registry, push
  local tarball=$1 name=$2; shift 2
  docker import "$@" "$tarball" "$REGISTRY/$name" >/dev/null
  docker push -q "$REGISTRY/$name" >/dev/null
  log "pushed $name"
}

busybox_rootfs() { # busybox_rootfs DIR: /bin/busybox with its applets
  local root=$1
  rm -rf "$root"; mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
}

build_images() {
  if ! curl -fsS -o /dev/null -u "$AUTH_USER:$AUTH_PASSWORD" "http://$AUTH_REGISTRY/v2/private/busybox/manifests/latest" \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json'; then
    busybox_rootfs "$DIR/private"
    tar -C "$DIR/private" -cf "$DIR/private.tar" .
    docker import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' "$DIR/private.tar" "$AUTH_REGISTRY/private/busybox:latest" >/dev/null
    # A login of its own, so the machine's docker config is left as it was.
    local cfg; cfg=$(mktemp -d)
    echo "$AUTH_PASSWORD" | docker --config "$cfg" login -u "$AUTH_USER" --password-stdin "$AUTH_REGISTRY" >/dev/null
    docker --config "$cfg" push -q "$AUTH_REGISTRY/private/busybox:latest" >/dev/null
    rm -rf "$cfg"
    docker rmi "$AUTH_REGISTRY/private/busybox:latest" >/dev/null
    log "pushed private/busybox (password-protected)"
  fi
  if ! in_registry library/busybox latest; then
    busybox_rootfs "$DIR/busybox"
    tar -C "$DIR/busybox" -cf "$DIR/busybox.tar" .
    push "$DIR/busybox.tar" library/busybox:latest --change 'CMD ["sh"]' \
      --change 'ENV PATH=/bin'
  fi
  if ! in_registry pause 3.10; then
    # The pod's infra container: holds the namespaces, does nothing, exits on SIGTERM.
    busybox_rootfs "$DIR/pause"
    tar -C "$DIR/pause" -cf "$DIR/pause.tar" .
    push "$DIR/pause.tar" pause:3.10 --change 'ENV PATH=/bin' \
      --change 'ENTRYPOINT ["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'
  fi
  if ! in_registry library/nginx latest; then
    [ -s "$DIR/nginx.tar" ] || mmdebstrap --quiet --variant=apt --include=nginx-light,curl bookworm "$DIR/nginx.tar"
    push "$DIR/nginx.tar" library/nginx:latest --change 'CMD ["nginx", "-g", "daemon off;"]' \
      --change 'EXPOSE 80' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'WORKDIR /'
  fi
  if ! in_registry alpine/git latest; then
    [ -s "$DIR/git.tar" ] || mmdebstrap --quiet --variant=apt --include=git bookworm "$DIR/git.tar"
    push "$DIR/git.tar" alpine/git:latest --change 'ENTRYPOINT ["git"]' --change 'CMD ["--help"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'WORKDIR /git'
  fi
}

case "${1:-all}" in
  engines) start_registry; start_auth_registry; start_dockerd; start_podman ;;
  images) build_images ;;
  all) start_registry; start_auth_registry; start_dockerd; start_podman; build_images ;;
  *) echo "usage: $0 [engines|images|all]" >&2; exit 2 ;;
esac
