/*
 * sndbuf.so: an LD_PRELOAD shim for tools/bench.mjs. It gives every socket the process
 * accepts a fixed send buffer of $SPRAT_BENCH_SNDBUF bytes (setsockopt SO_SNDBUF, which
 * also turns Linux's send-buffer autotuning off for it).
 *
 * Why: on loopback the kernel autotunes a send buffer to megabytes (64 KB MSS), so a client
 * that stops reading never makes a server wait for 'drain' with any file that fits in
 * Espruino for Linux's 256 KB Storage. With a small send buffer (plus the client's receive
 * buffer) a ~200 KB response stalls mid-way, which is what the bench needs to measure the
 * RAM of a static response in flight. Only the bench's "in-flight" runtime instance gets it.
 *
 *   cc -shared -fPIC -O2 -o build/bench/sndbuf.so tools/bench/sndbuf.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

static int fix(int fd) {
  const char *v = getenv("SPRAT_BENCH_SNDBUF");
  int n = v ? atoi(v) : 0;
  if (fd >= 0 && n > 0) {
    int e = errno;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof n);
    errno = e;
  }
  return fd;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
  if (!real) { errno = ENOSYS; return -1; }
  return fix(real(fd, addr, len));
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
  if (!real) { errno = ENOSYS; return -1; }
  return fix(real(fd, addr, len, flags));
}
