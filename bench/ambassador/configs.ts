// The reference configurations: an nginx origin (`return 200`, ~100 B), nginx proxy_pass with
// upstream keep-alive, HAProxy (mode http with connection reuse, and mode tcp), and the ambassador's
// YAML. One worker / one thread each, like the single-threaded Node process they are compared with.

export const BODY = `${'multipod benchmark origin: a small response of about one hundred bytes. '.repeat(2).slice(0, 99)}\n`;

/** One worker in the foreground, its pid and error log named `name` in the run's folder. */
function nginxMain(dir: string, name: string): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections 4096; }`;
}

/** nginx's temporary files in the run's folder (its compiled-in paths are root's). */
function tempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `${k}_temp_path ${dir}/tmp;`)
    .join('\n  ');
}

export function originNginx(dir: string, port: number, keepaliveTimeout: string): string {
  return `${nginxMain(dir, 'origin')}
http {
  access_log off;
  keepalive_timeout ${keepaliveTimeout};
  keepalive_requests 1000000;
  sendfile on;
  ${tempPaths(dir)}
  server {
    listen 127.0.0.1:${port} reuseport;
    location = /big.bin { root ${dir}/www; }
    location / { default_type text/plain; return 200 "${BODY.trimEnd()}\\n"; }
  }
}
`;
}

/** With `accessLog`, nginx logs each request as the ambassador does: batched, flushed within 1 s. */
export function proxyNginx(
  dir: string,
  port: number,
  origin: number,
  accessLog = false,
  name = 'proxy',
): string {
  return `${nginxMain(dir, name)}
http {
  access_log ${accessLog ? `${dir}/${name}-access.log combined buffer=4k flush=1s` : 'off'};
  keepalive_requests 1000000;
  ${tempPaths(dir)}
  upstream origin {
    server 127.0.0.1:${origin};
    keepalive 64;
    keepalive_timeout 1s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

export function haproxy(httpPort: number, tcpPort: number, origin: number): string {
  return `global
  maxconn 4000
  nbthread 1
defaults
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend web
  mode http
  bind 127.0.0.1:${httpPort}
  option http-keep-alive
  default_backend origin
backend origin
  mode http
  http-reuse always
  server s1 127.0.0.1:${origin}
frontend bulk
  mode tcp
  bind 127.0.0.1:${tcpPort}
  default_backend origin_tcp
backend origin_tcp
  mode tcp
  server s1 127.0.0.1:${origin}
`;
}

export function ambassadorYaml(httpPort: number, tcpPort: number, origin: number): string {
  return `listeners:
  - { name: web, port: ${httpPort}, host: 127.0.0.1, pool: origin }
  - { name: bulk, port: ${tcpPort}, host: 127.0.0.1, protocol: tcp, pool: origin_tcp }
pools:
  origin:
    upstreams: [http://127.0.0.1:${origin}]
  origin_tcp:
    upstreams: [tcp://127.0.0.1:${origin}]
`;
}

/** TLS termination: nginx with the same certificate, proxying to the origin with keep-alive. */
export function tlsNginx(dir: string, port: number, origin: number, cert: string, key: string): string {
  return `${nginxMain(dir, 'tls-nginx')}
http {
  access_log off;
  keepalive_requests 1000000;
  ${tempPaths(dir)}
  upstream origin {
    server 127.0.0.1:${origin};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** HAProxy terminating TLS with `crt` (certificate and key in one file). */
export function tlsHaproxy(port: number, origin: number, combined: string): string {
  return `global
  maxconn 4000
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend tls
  bind 127.0.0.1:${port} ssl crt ${combined} ssl-min-ver TLSv1.2
  option http-keep-alive
  default_backend origin
backend origin
  http-reuse always
  server s1 127.0.0.1:${origin}
`;
}

export function tlsAmbassadorYaml(port: number, origin: number, cert: string, key: string): string {
  return `listeners:
  - name: tls
    port: ${port}
    host: 127.0.0.1
    pool: origin
    tls: { certFile: ${cert}, keyFile: ${key} }
pools:
  origin:
    upstreams: [http://127.0.0.1:${origin}]
`;
}

/** nginx grpc_pass: cleartext HTTP/2 in, HTTP/2 (h2c) to the gRPC origin with keep-alive. */
export function grpcNginx(dir: string, port: number, origin: number): string {
  return `${nginxMain(dir, 'grpc-nginx')}
http {
  access_log ${dir}/grpc-nginx-access.log combined buffer=4k flush=1s;
  ${tempPaths(dir)}
  upstream grpc_origin {
    server 127.0.0.1:${origin};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} http2;
    http2_max_requests 1000000;
    location / { grpc_pass grpc://grpc_origin; }
  }
}
`;
}

export function grpcAmbassadorYaml(port: number, origin: number): string {
  return `listeners:
  - { name: grpc, port: ${port}, host: 127.0.0.1, protocol: h2c, pool: origin }
pools:
  origin:
    upstreams: [http://127.0.0.1:${origin}]
    protocol: h2c
`;
}
