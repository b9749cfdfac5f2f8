/*
 * telnet-port.so: an LD_PRELOAD shim that moves Espruino for Linux's telnet console.
 *
 * `espruino --telnet` listens on port 2323, hard-coded (libs/network/telnet/jswrap_telnet.c), so two
 * of them (or a test and a developer's own) cannot run at once. With SPRAT_TELNET_PORT=N in
 * the environment this interposes bind(): an AF_INET bind to port 2323 becomes port N.
 * Anything else is untouched and goes on to the next bind() (dlsym(RTLD_NEXT)), so it
 * stacks with loopback-bind.so:
 *
 *   cc -shared -fPIC -O2 -o build/telnet-port.so tools/telnet-port.c -ldl
 *   SPRAT_TELNET_PORT=40123 LD_PRELOAD=$PWD/build/telnet-port.so:$PWD/build/loopback-bind.so \
 *     espruino --telnet
 *
 * test/helpers/board.mjs builds and uses it automatically.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static bind_fn real_bind;
  if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
  if (!real_bind) { errno = ENOSYS; return -1; }
  const char *want = getenv("SPRAT_TELNET_PORT");
  if (want && addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    long p = strtol(want, NULL, 10);
    memcpy(&in, addr, sizeof in);
    if (ntohs(in.sin_port) == 2323 && p > 0 && p < 65536) {
      in.sin_port = htons((unsigned short)p);
      return real_bind(fd, (const struct sockaddr *)&in, sizeof in);
    }
  }
  return real_bind(fd, addr, len);
}
