# The benchmarks' far side, sourced by bench/tls.sh and bench/workload.sh: the tests' fake internet
# (tests/fixtures/fake-internet.sh, as network namespace "cgfwbn"), plus, on two more of its "far"
# addresses:
#   203.0.113.50  nginx (Debian), 1 worker: HTTPS 443 (TLS 1.2 and 1.3) and HTTP 80 for every name
#                 under bench.test (which the benchmarks intercept: URL rules) and pass.test (only
#                 domain rules: passed through); /small (3 bytes), /bulk (BULK_MB MiB), /git/repo.git
#                 (a dumb-HTTP git repository), /simple/ (a static pip index), /files/N (64 files)
#   203.0.113.53  dnsmasq as the authoritative upstream: every name under bench.test and pass.test
#                 is 203.0.113.50
# Its certificate is signed by a CA of its own (origin_ca), which cgfw is told to trust
# (--upstream-ca); clients that do not go through an interceptor use it too.
#
# origin_up WORK   starts it all (files under WORK, on /dev/shm); origin_down stops it.

readonly origin_ns=cgfwbn
readonly origin_ip=203.0.113.50
readonly origin_dns=203.0.113.53
readonly bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly fixture="$bench_root/tests/fixtures/fake-internet.sh"
BULK_MB=${BULK_MB:-1024}

origin_down() {
  [ -n "${origin_dir:-}" ] || return 0
  for pid_file in "$origin_dir"/nginx.pid "$origin_dir"/dnsmasq.pid; do
    [ -s "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null
  done
  "$fixture" down "$origin_ns" >/dev/null 2>&1 || true
}

# A wheel pip accepts: a zip with the package, METADATA, WHEEL and RECORD.
make_wheels() {
  local index=$1
  /usr/bin/python3 - "$index" <<'PY'
import base64, hashlib, os, sys, zipfile
index = sys.argv[1]
os.makedirs(index, exist_ok=True)
names = []
for i in range(8):
    name = "cgfwbench%d" % i
    names.append(name)
    wheel = "%s-1.0-py3-none-any.whl" % name
    files = {
        "%s/__init__.py" % name: b"X = b'" + os.urandom(1) .hex().encode() * 50000 + b"'\n",
        "%s-1.0.dist-info/METADATA" % name: ("Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name).encode(),
        "%s-1.0.dist-info/WHEEL" % name: b"Wheel-Version: 1.0\nGenerator: cgfw-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\n" % (path, digest, len(data))
    record += "%s-1.0.dist-info/RECORD,,\n" % name
    files["%s-1.0.dist-info/RECORD" % name] = record.encode()
    os.makedirs(os.path.join(index, name), exist_ok=True)
    with zipfile.ZipFile(os.path.join(index, name, wheel), "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    with open(os.path.join(index, name, "index.html"), "w") as f:
        f.write('<a href="%s">%s</a>\n' % (wheel, wheel))
with open(os.path.join(index, "index.html"), "w") as f:
    f.write("".join('<a href="%s/">%s</a>\n' % (n, n) for n in names))
PY
}

# A repository of a few thousand objects (git fetches each over dumb HTTP, one request each).
make_repository() {
  local repo=$1 source=$2
  git init -q "$source"
  for commit in $(seq 60); do
    for file in $(seq 40); do
      head -c 2000 /dev/urandom | base64 >"$source/f$file.txt"
    done
    git -C "$source" add -A
    git -C "$source" -c user.name=bench -c user.email=bench@bench.test commit -qm "commit $commit"
  done
  git clone -q --bare "$source" "$repo"
  git -C "$repo" update-server-info
}

origin_up() {
  origin_dir=$1/origin
  mkdir -p "$origin_dir/www/files" "$origin_dir/tmp"
  # nginx's workers are not root: they must get through every directory above the files (mktemp
  # makes them 0700, and an origin answering 403 would measure nothing).
  local up=$origin_dir
  while [ "$up" != / ]; do chmod o+x "$up"; up=$(dirname "$up"); done
  "$fixture" up "$origin_ns" >&2
  ip netns exec "$origin_ns" ip addr add "$origin_ip/32" dev lo
  ip netns exec "$origin_ns" ip addr add "$origin_dns/32" dev lo

  local dir=$origin_dir www=$origin_dir/www
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=cgfw bench origin CA" -keyout "$dir/origin-ca.key" -out "$dir/origin-ca.pem" \
    2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench.test" \
    -keyout "$dir/origin.key" -out "$dir/origin.csr" 2>/dev/null
  printf 'subjectAltName=DNS:bench.test,DNS:*.bench.test,DNS:pass.test,DNS:*.pass.test,IP:%s\n' \
    "$origin_ip" >"$dir/san.ext"
  openssl x509 -req -in "$dir/origin.csr" -CA "$dir/origin-ca.pem" -CAkey "$dir/origin-ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/san.ext" -out "$dir/origin.pem" 2>/dev/null

  printf 'ok\n' >"$www/small"
  head -c "$((BULK_MB << 20))" /dev/urandom >"$www/bulk"
  for i in $(seq 64); do head -c 65536 /dev/urandom >"$www/files/$i"; done
  make_repository "$www/git/repo.git" "$dir/repo-source"
  make_wheels "$www/simple"

  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    types { text/html html; }
    default_type application/octet-stream;
    server {
        listen $origin_ip:80 reuseport;
        listen $origin_ip:443 ssl reuseport;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $dir/origin.pem;
        ssl_certificate_key $dir/origin.key;
        ssl_session_cache off;
        ssl_session_tickets off;
        root $www;
        autoindex off;
    }
}
NGINX
  setsid ip netns exec "$origin_ns" nginx -c "$dir/nginx.conf" -p "$dir" </dev/null \
    >>"$dir/nginx.stderr" 2>&1 &
  setsid ip netns exec "$origin_ns" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --listen-address="$origin_dns" --bind-interfaces --pid-file="$dir/dnsmasq.pid" \
    --address=/bench.test/"$origin_ip" --address=/pass.test/"$origin_ip" --cache-size=0 \
    --dns-forward-max=1000 </dev/null >>"$dir/dnsmasq.stderr" 2>&1 &
  for _ in $(seq 500); do
    [ -s "$dir/nginx.pid" ] && [ -s "$dir/dnsmasq.pid" ] &&
      curl -sfk --max-time 1 -o /dev/null "https://$origin_ip/small" && return 0
    sleep 0.02
  done
  echo "bench: the origin did not start:" >&2
  cat "$dir/nginx-error.log" "$dir/nginx.stderr" "$dir/dnsmasq.stderr" >&2 2>/dev/null
  return 1
}
