/*
 * loopback-bind.so: an LD_PRELOAD shim that keeps servers on the loopback interface.
 *
 * Espruino for Linux binds its `net` servers and its telnet console to INADDR_ANY
 * (0.0.0.0), hard-coded. sprat's tools and tests must only listen on 127.0.0.1, so this
 * interposes bind(): an AF_INET address of INADDR_ANY is rewritten to INADDR_LOOPBACK
 * before the real bind() (found with dlsym(RTLD_NEXT)) runs. Anything else is untouched.
 *
 *   cc -shared -fPIC -O2 -o build/loopback-bind.so tools/loopback-bind.c -ldl
 *   LD_PRELOAD=$PWD/build/loopback-bind.so espruino app.js
 *
 * tools/runtimes.mjs builds and uses it automatically.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static bind_fn real_bind;
  if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
  if (!real_bind) { errno = ENOSYS; return -1; }
  if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    if (in.sin_addr.s_addr == htonl(INADDR_ANY)) {
      in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      return real_bind(fd, (const struct sockaddr *)&in, sizeof in);
    }
  }
  return real_bind(fd, addr, len);
}
