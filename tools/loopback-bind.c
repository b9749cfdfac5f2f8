/*
 * loopback-bind.so: an LD_PRELOAD shim for Espruino for Linux's listening sockets.
 *
 * 1. Espruino for Linux binds its `net` servers and its telnet console to INADDR_ANY
 *    (0.0.0.0), hard-coded. sprat's tools and tests must only listen on 127.0.0.1, so an
 *    AF_INET bind to INADDR_ANY is rewritten to INADDR_LOOPBACK.
 * 2. `espruino --telnet` listens on port 2323, hard-coded (libs/network/telnet/
 *    jswrap_telnet.c), so two of them (or a test and a developer's own) cannot run at once.
 *    With SPRAT_TELNET_PORT=N in the environment, a bind to port 2323 becomes port N.
 * The real bind() (dlsym(RTLD_NEXT)) then runs; anything else is untouched.
 *
 *   cc -shared -fPIC -O2 -o build/loopback-bind.so tools/loopback-bind.c -ldl
 *   SPRAT_TELNET_PORT=40123 LD_PRELOAD=$PWD/build/loopback-bind.so espruino --telnet
 *
 * tools/runtimes.mjs builds and uses it automatically.
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
  if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    const char *want = getenv("SPRAT_TELNET_PORT");
    long p = want ? strtol(want, NULL, 10) : 0;
    memcpy(&in, addr, sizeof in);
    if (in.sin_addr.s_addr == htonl(INADDR_ANY)) in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ntohs(in.sin_port) == 2323 && p > 0 && p < 65536) in.sin_port = htons((unsigned short)p);
    return real_bind(fd, (const struct sockaddr *)&in, sizeof in);
  }
  return real_bind(fd, addr, len);
}
